import type { EvaluationReport } from "@cohort/wire";
import type { Collector } from "./collector.js";
import { type EvaluationContext, collectEvaluations, evaluateOnOwnData } from "./evaluation-phase.js";
import type { ModelStore } from "./model-store.js";
import { roundMetrics } from "./round-metrics.js";
import type { FusedRound } from "./round-training.js";
import type { RoundMetrics, RunOutput } from "./run-output.js";
import type { AggregatorSettings, GlobalEvaluator } from "./settings.js";
import type { TrainingPhase } from "./training-phase.js";

/** What a fused round's evaluation and metrics line need from the aggregator. */
export interface RoundEvaluationContext extends EvaluationContext {
  settings: AggregatorSettings;
  store: ModelStore;
  output: RunOutput;
  /** The aggregator's own evaluator (its held-out data), when it has one. */
  evaluateGlobal: GlobalEvaluator | undefined;
  /** The round's evaluation collector, before its first instruction goes out (reports find it). */
  open(collector: Collector<EvaluationReport>): void;
  /** The aggregator's own evaluation of the round, as soon as it is known (for summary.json). */
  ownEvaluated(evaluation: Record<string, number>): void;
}

/**
 * The end of a fused round: its evaluation (the parties' and the aggregator's own, at the same
 * time, every evaluate_every rounds and the last), then its metrics line, appended and logged.
 * Its own module so that the run loop reads "train and fuse, then evaluate"; the metrics line's
 * fields are decided here and in round-metrics.ts.
 */
export async function evaluateRound(
  context: RoundEvaluationContext, phase: TrainingPhase, fused: FusedRound, roundStart: number, bytes: () => { in: number; out: number },
): Promise<RoundMetrics> {
  const { settings: s, store, log, registry } = context;
  const { round } = phase;
  const { updates, report, trainMs, fuseMs, checkpointMs } = fused;
  context.metrics?.setPhase("evaluate");
  const evaluate = round % (s.evaluateEvery ?? 1) === 0 || round === s.rounds;
  // The aggregator's own evaluation runs while the parties evaluate theirs.
  const ownEvaluation = evaluate && context.evaluateGlobal ? evaluateOnOwnData(context.evaluateGlobal, store, log, round) : Promise.resolve(undefined);
  const { reports, ms: evalMs } = await collectEvaluations(context, round, evaluate ? registry.connected() : [], context.open);
  const aggregatorEval = await ownEvaluation;
  const metrics = roundMetrics(round, updates, reports,
    { train: trainMs, fuse: fuseMs, checkpoint: checkpointMs, eval: evalMs, round: Date.now() - roundStart }, bytes());
  if (aggregatorEval) {
    metrics.aggregator_eval = aggregatorEval;
    context.ownEvaluated(aggregatorEval);
  }
  if (phase.bounds.clipped.length) report.clipped = phase.bounds.clipped;
  if (phase.bounds.refused.length) report.refused = phase.bounds.refused;
  if (Object.keys(report).length) metrics.fusion = report;
  const { privacy } = fused;
  if (privacy) {
    metrics.privacy = privacy;
    log.info({ round, phase: "privacy", epsilon: privacy.epsilon, delta: privacy.delta, noise_multiplier: privacy.noise_multiplier, clip_norm: privacy.clip_norm, next_clip_norm: privacy.next_clip_norm }, `round ${round}: epsilon ${privacy.epsilon.toFixed(3)} at delta ${privacy.delta}`);
  }
  await context.output.appendMetrics(metrics);
  context.metrics?.roundCompleted(metrics);
  log.info({ round, phase: "round-done", parties: metrics.parties.length, examples: metrics.examples, train: metrics.train, eval: metrics.eval, ...(aggregatorEval ? { aggregator_eval: aggregatorEval } : {}), ms: metrics.ms.round, bytes_in: metrics.bytes_in, bytes_out: metrics.bytes_out, fusion: metrics.fusion }, `round ${round}/${s.rounds} done`);
  return metrics;
}
