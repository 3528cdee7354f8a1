import type { EvaluationReport } from "@cohort/wire";
import type { Collected } from "./collector.js";
import type { RoundMetrics } from "./run-output.js";
import { cappedEvaluation } from "./report-bounds.js";
import { weightedMetrics } from "./weighted-metrics.js";

/** What the aggregator keeps of a verified update once it is folded: its weight and training metrics. */
export interface UpdateMeta { numExamples: number; metrics: Record<string, number>; trainSeconds: number }

/** The line a round adds to metrics.jsonl: who contributed, the weighted training and evaluation metrics, timings, bytes. */
export function roundMetrics(
  round: number, updates: Collected<UpdateMeta>, reports: Collected<EvaluationReport>,
  ms: RoundMetrics["ms"], bytes: { in: number; out: number },
): RoundMetrics {
  const contributions = [...updates.results.entries()];
  return {
    round,
    parties: contributions.map(([name]) => name),
    missing: updates.missing,
    examples: contributions.reduce((n, [, u]) => n + u.numExamples, 0),
    train: weightedMetrics(contributions.map(([, u]) => u)),
    // Capped at the median count: no party outweighs a typical one by claiming more examples.
    eval: cappedEvaluation(reports.results.values()),
    eval_parties: [...reports.results.values()].filter((r) => r.numExamples > 0).length,
    ms,
    bytes_in: bytes.in,
    bytes_out: bytes.out,
    by_party: Object.fromEntries(contributions.map(([name, u]) => [name, {
      examples: u.numExamples, train: u.metrics, train_seconds: u.trainSeconds, eval: reports.results.get(name)?.metrics ?? {},
    }])),
  };
}
