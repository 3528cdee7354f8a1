import type { EvaluationReport } from "@cohort/wire";
import type { Collector } from "./collector.js";
import type { EvaluationContext } from "./evaluation-phase.js";
import { recoverLostRounds } from "./lost-rounds.js";
import { type ModelStore, slicesOf } from "./model-store.js";
import { stopParties } from "./run-ending.js";
import type { RunOutput, RunSummary } from "./run-output.js";
import type { AggregatorSettings } from "./settings.js";
import { withTimeout } from "./timeout.js";

/** What starting a run needs from the aggregator. */
export interface RunStartContext extends EvaluationContext {
  settings: AggregatorSettings;
  store: ModelStore;
  output: RunOutput;
  /** A lost round's evaluation collector (recovered rounds), before its first instruction goes out. */
  open(collector: Collector<EvaluationReport>): void;
}

/** The run may start its rounds (with the last evaluation's numbers so far), or it was stopped while waiting. */
export type RunStart = { stopped: RunSummary } | { lastAccuracy: number | null; lastLoss: number | null };

/**
 * Everything before a run's first round: waits for the parties (quorum, max_timeout) and the
 * initial weights, serves an in-memory initial model from checkpoint 0, writes the topology and,
 * on a resumed run, recovers the rounds whose evaluation a crash lost. Its own module so that
 * the Aggregator's run() reads as the round loop. Throws when too few parties join.
 */
export async function startRun(context: RunStartContext, resumedFrom: number | undefined, quorum: number, started: number): Promise<RunStart> {
  const { settings: s, store, output, registry, log } = context;
  const completed = resumedFrom ?? 0;
  context.metrics?.setPhase("waiting");
  log.info({ phase: "wait-parties", expected: s.numParties, quorum, timeout_ms: s.maxTimeoutMs }, "waiting for parties to join");
  const present = await registry.waitForConnected(s.numParties, s.maxTimeoutMs, context.abort);
  if (context.abort.aborted) {
    // A stop requested while waiting is not a failed start: no "only 0 of 2 parties joined".
    const reason = "stopped by signal";
    stopParties(registry, reason);
    log.warn({ phase: "stopped", round: completed, joined: present.length, expected: s.numParties }, `stopped by signal while waiting for parties (${present.length} of ${s.numParties} had joined)`);
    const before = (await output.readMetrics()).filter((m) => m.eval.accuracy !== undefined).pop();
    return { stopped: { rounds_completed: completed, final: { accuracy: before?.eval.accuracy ?? null, loss: before?.eval.loss ?? null }, parties: [], wall_seconds: (Date.now() - started) / 1000, stopped_because: reason, fusion: s.algorithm, exported: [] } };
  }
  if (present.length < quorum) throw new Error(`only ${present.length} of ${s.numParties} parties joined within ${s.maxTimeoutMs / 1000} s (quorum ${quorum}): ${present.join(", ") || "none"}`);
  await withTimeout(store.ready, s.maxTimeoutMs, "no initial weights arrived from the first party");
  if (resumedFrom === undefined && store.latest!.path === undefined) {
    // An initial model handed over in memory: from here on it is served from checkpoint 0.
    const initial = store.latest!;
    const checkpoint = await output.writeCheckpointSlices(0, store.manifest!, slicesOf(store.bytes(initial.round)!));
    store.putFile(0, checkpoint);
  }
  if (store.topology) await output.writeTopology(store.topology);
  if (resumedFrom !== undefined) {
    await recoverLostRounds(context, resumedFrom);
  }
  const previous = (await output.readMetrics()).filter((m) => m.eval.accuracy !== undefined).pop();
  return { lastAccuracy: previous?.eval.accuracy ?? null, lastLoss: previous?.eval.loss ?? null };
}
