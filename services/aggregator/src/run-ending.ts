import { join } from "node:path";
import type { AggregatorMetrics, Logger } from "@cohort/telemetry";
import type { PartyAuthenticator } from "./auth.js";
import type { ModelStore } from "./model-store.js";
import type { PartyRegistry } from "./registry.js";
import type { RunOutput, RunSummary } from "./run-output.js";
import type { PrivacySummary } from "./run-privacy.js";
import type { AggregatorSettings, ModelExporter } from "./settings.js";

/** What ending a run needs from the aggregator. */
export interface RunEndingContext {
  settings: AggregatorSettings;
  log: Logger;
  metrics: AggregatorMetrics | undefined;
  registry: PartyRegistry;
  store: ModelStore;
  output: RunOutput;
  auth: PartyAuthenticator;
  exportModel: ModelExporter | undefined;
}

/** How the run loop ended. */
export interface RunEnd {
  /** Date.now() when the run started. */
  started: number;
  completed: number;
  lastAccuracy: number | null;
  lastLoss: number | null;
  stoppedBecause: string;
  failedRound: number | undefined;
  /** Stopped by signal or failed in a way a restart repairs: no summary, the same config resumes. */
  interrupted: boolean;
  aggregatorEval: Record<string, number> | undefined;
  /** Differential privacy: the epsilon spent at delta, for summary.json. */
  privacy?: PrivacySummary;
}

/** Tells every connected party to stop, with `reason`, and ends their instruction streams. */
export function stopParties(registry: PartyRegistry, reason: string): void {
  for (const party of registry.connected()) registry.send(party, { kind: "stop", stop: { reason } });
  registry.closeAll();
}

/**
 * Ends a run after its loop: stops the parties, then either leaves it resumable (no summary) or
 * exports the final model and writes summary.json. Its own module so that the Aggregator's run()
 * reads as the run loop; what a finished run leaves behind is decided here.
 */
export async function endRun(context: RunEndingContext, end: RunEnd): Promise<RunSummary> {
  const { settings: s, log, registry, store } = context;
  const { started, completed, lastAccuracy, lastLoss, stoppedBecause, failedRound } = end;
  const failure = failedRound !== undefined ? { failed_round: failedRound } : {};
  stopParties(registry, stoppedBecause);
  if (end.interrupted) {
    // No summary: the run is unfinished, and the same config resumes it after the last checkpoint.
    log.warn({ phase: "stopped", round: completed, output_dir: s.outputDir, reason: stoppedBecause }, `stopped after round ${completed}; the round in progress was abandoned; restart with the same config to resume`);
    return { rounds_completed: completed, final: { accuracy: lastAccuracy, loss: lastLoss }, parties: [], wall_seconds: (Date.now() - started) / 1000, stopped_because: stoppedBecause, ...failure, fusion: s.algorithm, exported: [] };
  }
  const final = store.latest!;
  // The export is the one place the final model is loaded whole (from its checkpoint).
  const exported = context.exportModel
    ? await context.exportModel(join(s.outputDir, "model"), store.manifest!, store.bytes(final.round)!, store.topology)
    : [];
  const summary: RunSummary = {
    rounds_completed: completed,
    final: { accuracy: lastAccuracy, loss: lastLoss },
    // Allow-list order; under --insecure (no allow-list) the order of first join.
    parties: context.auth.open ? registry.joined() : [...new Set(s.parties.map((p) => p.name).filter((n) => registry.get(n)))],
    wall_seconds: (Date.now() - started) / 1000,
    stopped_because: stoppedBecause,
    ...failure,
    fusion: s.algorithm,
    exported,
    ...(end.aggregatorEval ? { aggregator_eval: end.aggregatorEval } : {}),
    ...(end.privacy ? { privacy: end.privacy } : {}),
  };
  await context.output.writeSummary(summary);
  context.metrics?.setPhase("done");
  log.info({ phase: "done", rounds: completed, ...(summary.privacy ? { epsilon: summary.privacy.epsilon, delta: summary.privacy.delta } : {}), accuracy: summary.final.accuracy, loss: summary.final.loss, wall_seconds: summary.wall_seconds, output_dir: s.outputDir }, "federation finished");
  return summary;
}
