import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { RoundMetrics, RunSummary } from "@cohort/aggregator";

/** What a report is made of: the run directory's metrics.jsonl and summary.json. */
export interface RunData {
  dir: string;
  rounds: RoundMetrics[];
  summary: RunSummary | undefined;
  /** Lines of metrics.jsonl that could not be read (a run killed mid-write leaves at most one). */
  skippedLines: number;
}

export class RunDirError extends Error {
  readonly code = "RUN_DIR";
  constructor(message: string) {
    super(message);
    this.name = "RunDirError";
  }
}

/**
 * Reads a run directory. A run still in progress, or one that crashed, has metrics.jsonl but
 * no summary.json: that still makes a report. A directory with neither is an error.
 */
export async function readRunData(dir: string): Promise<RunData> {
  const metricsText = await readFile(join(dir, "metrics.jsonl"), "utf8").catch(() => undefined);
  const summaryText = await readFile(join(dir, "summary.json"), "utf8").catch(() => undefined);
  if (metricsText === undefined && summaryText === undefined) {
    throw new RunDirError(`${dir}: no metrics.jsonl or summary.json here; expected a run directory (the aggregator's output_dir)`);
  }
  const rounds: RoundMetrics[] = [];
  let skippedLines = 0;
  for (const line of (metricsText ?? "").split("\n")) {
    if (line.trim() === "") continue;
    try {
      const parsed = JSON.parse(line) as RoundMetrics;
      if (typeof parsed.round === "number") rounds.push(parsed);
      else skippedLines++;
    } catch {
      skippedLines++;
    }
  }
  // A resumed run may repeat a round; the later line is the one that counted.
  const byRound = new Map(rounds.map((r) => [r.round, r]));
  let summary: RunSummary | undefined;
  try {
    summary = summaryText === undefined ? undefined : (JSON.parse(summaryText) as RunSummary);
  } catch {
    throw new RunDirError(`${join(dir, "summary.json")}: not valid JSON`);
  }
  return { dir, rounds: [...byRound.values()].sort((a, b) => a.round - b.round), summary, skippedLines };
}
