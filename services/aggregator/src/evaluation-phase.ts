import type { AggregatorMetrics, Logger } from "@cohort/telemetry";
import { type EvaluationReport, failedPrecondition, invalidArgument, permissionDenied } from "@cohort/wire";
import { type Collected, Collector } from "./collector.js";
import type { ModelStore } from "./model-store.js";
import type { PartyRegistry } from "./registry.js";
import { type MetricBounds, evaluationViolation } from "./report-bounds.js";
import type { GlobalEvaluator } from "./settings.js";

/** What the evaluation phase of a round needs from the aggregator. */
export interface EvaluationContext {
  registry: PartyRegistry;
  log: Logger;
  metrics?: AggregatorMetrics;
  /** The run's stop signal (SIGTERM): the collection closes as cancelled. */
  abort: AbortSignal;
  /** The evaluate deadline of a party (hyperparams.global.deadlines.evaluate). */
  deadlineMs: number;
}

/**
 * Asks `evaluators` to evaluate `round`'s global model and gathers their reports until all have
 * answered, the evaluate deadline passes (the late are logged and counted as dropped) or the run
 * stops. `open` gets the collector before the first instruction goes out, so reports that come
 * back at once find it.
 */
export async function collectEvaluations(
  context: EvaluationContext, round: number, evaluators: string[], open: (collector: Collector<EvaluationReport>) => void,
): Promise<{ reports: Collected<EvaluationReport>; ms: number }> {
  const started = Date.now();
  const evaluation = new Collector<EvaluationReport>(round, evaluators, context.deadlineMs);
  open(evaluation);
  for (const party of evaluators) if (!context.registry.send(party, { kind: "evaluate", evaluate: { round } })) evaluation.drop(party);
  const onAbort = () => evaluation.close("cancelled");
  context.abort.addEventListener("abort", onAbort);
  const reports = await evaluation.closed;
  context.abort.removeEventListener("abort", onAbort);
  const ms = Date.now() - started;
  for (const party of reports.late) {
    context.log.warn({ party, round, phase: "evaluate", deadline_ms: context.deadlineMs }, `${party} missed the evaluate deadline of round ${round}`);
    context.metrics?.partyDropped("evaluate");
  }
  return { reports, ms };
}

/**
 * The round's global model (the store's latest) evaluated on the aggregator's own held-out data,
 * or undefined when there is none yet or the evaluator failed: a warning, never a failed round,
 * since the parties' evaluation stands.
 */
export async function evaluateOnOwnData(evaluator: GlobalEvaluator, store: ModelStore, log: Logger, round: number): Promise<Record<string, number> | undefined> {
  const latest = store.latest;
  if (!latest || !store.manifest) return undefined;
  const started = Date.now();
  try {
    const { examples, metrics } = await evaluator(round, store.manifest, store.bytes(latest.round)!, store.topology);
    log.info({ round, phase: "evaluate", evaluator: "aggregator", examples, ...metrics, ms: Date.now() - started }, "global model evaluated on the aggregator's data");
    return { examples, ...metrics };
  } catch (error) {
    log.warn({ round, phase: "evaluate", evaluator: "aggregator", reason: (error as Error).message }, "the aggregator could not evaluate the global model on its data");
    return undefined;
  }
}

/**
 * Takes `party`'s report into the open evaluation `evaluation`, or throws the refusal the party
 * receives: no evaluation of that round open, a malformed count, a report that breaks the bounds
 * (logged, counted, the party no longer waited for), or a party that was not asked.
 */
export function acceptEvaluation(
  context: EvaluationContext, evaluation: Collector<EvaluationReport> | undefined, party: string, report: EvaluationReport, bounds: MetricBounds,
): void {
  if (!evaluation || evaluation.round !== report.round || !evaluation.isOpen) throw failedPrecondition(`evaluation of round ${report.round} is not open`);
  if (!Number.isSafeInteger(report.numExamples) || report.numExamples < 0) throw invalidArgument("num_examples must be a non-negative integer");
  const violation = evaluationViolation(context.registry.get(party), report, bounds);
  if (violation) {
    context.log.warn({ party, round: report.round, phase: "evaluate", reason: violation.reason }, `evaluation report of ${party} refused: ${violation.reason}`);
    context.metrics?.reportRefused(violation.code);
    evaluation.drop(party);
    throw invalidArgument(`evaluation report refused: ${violation.reason}`);
  }
  if (!evaluation.submit(party, report)) throw permissionDenied(`${party} was not asked to evaluate round ${report.round}`);
}
