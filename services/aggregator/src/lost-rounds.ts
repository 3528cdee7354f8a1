import type { EvaluationReport } from "@cohort/wire";
import type { Collector } from "./collector.js";
import { type EvaluationContext, collectEvaluations } from "./evaluation-phase.js";
import type { PendingRoundMetrics, RoundMetrics, RunOutput } from "./run-output.js";
import { weightedMetrics } from "./weighted-metrics.js";

/** How the `eval` of a line written after a restart was obtained (its `recovered` field). */
export const RECOVERED_EVALUATED = "evaluated after a restart";
export const RECOVERED_NOT_EVALUATED = "not evaluated: written after a restart, from its checkpoint (only the last round's model is served)";

/**
 * A round's checkpoint is written before its evaluation and its metrics.jsonl line; an aggregator
 * that dies between the two (a crash, a full disk) resumes after that checkpoint and would never
 * write the line. Here, once the parties are back, every checkpointed round up to `lastRound`
 * without a line gets one: the last is evaluated by the connected parties now (its model is the
 * one they will train from), earlier ones (several failures in a row) are recorded with what
 * their checkpoint kept. Nothing is skipped silently: each is logged.
 */
export async function recoverLostRounds(
  context: EvaluationContext & { output: RunOutput; open: (collector: Collector<EvaluationReport>) => void },
  lastRound: number,
): Promise<RoundMetrics[]> {
  const recorded = new Set((await context.output.readMetrics()).map((m) => m.round));
  const written: RoundMetrics[] = [];
  for (let round = 1; round <= lastRound; round++) {
    if (recorded.has(round)) continue;
    const pending = (await context.output.readPendingMetrics(round)) ?? unknownRound(round);
    let line: RoundMetrics;
    if (round === lastRound) {
      const { reports, ms } = await collectEvaluations(context, round, context.registry.connected(), context.open);
      const byParty = Object.fromEntries(Object.entries(pending.by_party ?? {}).map(([name, p]) => [name, { ...p, eval: reports.results.get(name)?.metrics ?? {} }]));
      line = { ...pending, eval: weightedMetrics(reports.results.values()), ms: { ...pending.ms, eval: ms }, by_party: byParty, recovered: RECOVERED_EVALUATED };
    } else {
      line = { ...pending, eval: {}, recovered: RECOVERED_NOT_EVALUATED };
    }
    await context.output.appendMetrics(line);
    context.log.warn({ phase: "resume", round, eval: line.eval, reason: line.recovered }, `round ${round} was checkpointed but had no metrics line: recorded now (${line.recovered})`);
    written.push(line);
  }
  return written;
}

/** A checkpoint from before checkpoints kept their round's metrics: only the round is known. */
function unknownRound(round: number): PendingRoundMetrics {
  return { round, parties: [], missing: [], examples: 0, train: {}, ms: { train: 0, fuse: 0, checkpoint: 0, eval: 0, round: 0 }, bytes_in: 0, bytes_out: 0, by_party: {} };
}
