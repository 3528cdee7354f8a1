import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { RoundMetrics, RunSummary } from "@cohort/aggregator";
import { runReportCommand } from "../commands/report.js";
import { readRunData } from "./run-data.js";
import { renderReport } from "./report-html.js";
import { tempDir } from "../../../../test/helpers/temp-dirs.js";

const EVIL = `<b>"acme" & co</b>`;

function round(r: number, accuracy: number, loss: number): RoundMetrics {
  return {
    round: r, parties: ["alpha", EVIL], missing: [], examples: 3000,
    train: { loss: loss + 0.05, accuracy: accuracy - 0.02 }, eval: { accuracy, loss },
    ms: { train: 4200 + r, fuse: 7, checkpoint: 12, eval: 310, round: 4600 + r },
    bytes_in: 2 * 1048576, bytes_out: 4 * 1048576,
    by_party: {
      alpha: { examples: 1000, train: { loss: loss + 0.1, accuracy: 0.8 }, train_seconds: 3.5, eval: { accuracy: accuracy - 0.01, loss } },
      [EVIL]: { examples: 2000, train: { loss, accuracy: 0.85 }, train_seconds: 4.25, eval: { accuracy: accuracy + 0.01, loss } },
    },
  };
}

async function runDir(lines: string[], summary?: RunSummary): Promise<string> {
  const dir = await tempDir("cohort-report-");
  await writeFile(join(dir, "metrics.jsonl"), lines.join("\n") + "\n");
  if (summary) await writeFile(join(dir, "summary.json"), JSON.stringify(summary));
  return dir;
}

const summary: RunSummary = {
  rounds_completed: 3, final: { accuracy: 0.9512, loss: 0.1234 }, parties: ["alpha", EVIL], wall_seconds: 14.2,
  stopped_because: "all rounds completed", fusion: "fedavg", exported: ["model/model.json"],
};

describe("cohort report", () => {
  it("renders the numbers, one SVG path per series, and escapes party names", async () => {
    const dir = await runDir([round(1, 0.9, 0.3), round(2, 0.93, 0.2), round(3, 0.9512, 0.1234)].map((r) => JSON.stringify(r)), summary);
    const html = renderReport(await readRunData(dir), new Date("2025-01-02T03:04:05Z"));
    expect(html).toMatch(/^<!doctype html>/);
    expect(html).toContain("<dt>final accuracy</dt><dd>0.9512</dd>");
    expect(html).toContain("<dt>rounds completed</dt><dd>3</dd>");
    expect(html).toContain("<dd>all rounds completed</dd>");
    expect(html).toContain("<dd>6.00 MiB / 12.00 MiB</dd>");
    // Accuracy and loss (2 series each), per-party loss and accuracy (2 parties each).
    expect((html.match(/<path d="M/g) ?? []).length).toBe(8);
    expect((html.match(/<svg /g) ?? []).length).toBe(6);
    expect(html).toContain("<title>global (held-out), round 3: 0.951</title>");
    expect(html).toContain("<title>round 2, train: 4.20</title>");
    // The party name is shown, escaped, and never as markup.
    expect(html).toContain("&lt;b&gt;&quot;acme&quot; &amp; co&lt;/b&gt;");
    expect(html).not.toContain(EVIL);
    // Self-contained: no scripts, no external resources.
    expect(html).not.toMatch(/<script|<link|src=|href=/i);
  });

  it("reports an unfinished run (no summary.json) and skips a torn last line", async () => {
    const dir = await runDir([JSON.stringify(round(1, 0.5, 1)), '{"round": 2, "par']);
    const data = await readRunData(dir);
    expect(data.rounds).toHaveLength(1);
    expect(data.skippedLines).toBe(1);
    const html = renderReport(data);
    expect(html).toContain("n/a (no summary.json)");
    expect(html).toContain("1 unreadable line(s) of metrics.jsonl skipped");
  });

  it("writes report.html (and the charts as SVG files) into the run directory", async () => {
    const dir = await runDir([round(1, 0.9, 0.3), round(2, 0.93, 0.2)].map((r) => JSON.stringify(r)), summary);
    const printed: string[] = [];
    expect(await runReportCommand(dir, { svg: true, print: (l) => printed.push(l) })).toBe(0);
    expect(printed[0]).toBe(`report of 2 round(s): ${join(dir, "report.html")}`);
    expect(await readFile(join(dir, "report.html"), "utf8")).toContain("Cohort run report");
    expect(await readFile(join(dir, "accuracy.svg"), "utf8")).toMatch(/^<\?xml[^]*<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  });

  it("shows the aggregator's own evaluation beside the parties' when the run had a data section", async () => {
    const withOwn = (r: RoundMetrics, accuracy: number) => ({ ...r, aggregator_eval: { examples: 300, accuracy } });
    const dir = await runDir([withOwn(round(1, 0.9, 0.3), 0.8133), withOwn(round(2, 0.93, 0.2), 0.8467)].map((r) => JSON.stringify(r)),
      { ...summary, rounds_completed: 2, aggregator_eval: { examples: 300, accuracy: 0.8467 } });
    const html = renderReport(await readRunData(dir));
    expect(html).toContain("final accuracy (aggregator&#39;s data)");
    expect(html).toContain("0.8467 on 300 examples");
    expect(html).toContain("global (aggregator&#39;s data)");
    expect(html).toContain("<td>0.8133</td>");
    // A run without the section keeps the page as it was.
    const plain = renderReport(await readRunData(await runDir([JSON.stringify(round(1, 0.9, 0.3))], summary)));
    expect(plain).not.toContain("aggregator&#39;s");
  });

  it("says what is wrong with a directory that is not a run", async () => {
    const dir = await tempDir("cohort-report-empty-");
    await expect(readRunData(dir)).rejects.toThrow(/no metrics\.jsonl or summary\.json here/);
  });

  it("shows a DP run's epsilon as a fact and a chart", async () => {
    const privacy = (epsilon: number) => ({ epsilon, delta: 1e-5, noise_multiplier: 1.1, sampling_rate: 1, clip_norm: 1, next_clip_norm: 1 });
    const lines = [1, 2].map((r) => JSON.stringify({ ...round(r, 0.8, 0.5), privacy: privacy(r * 1.5) }));
    const dpSummary: RunSummary = { ...summary, rounds_completed: 2, privacy: { mode: "central", epsilon: 3, delta: 1e-5, rounds_accounted: 2, noise_multiplier: 1.1, sampling_rate: 1, target_epsilon: 4, clip_norm: 1 } };
    const html = renderReport(await readRunData(await runDir(lines, dpSummary)));
    expect(html).toContain("<dt>differential privacy</dt><dd>epsilon 3.000 at delta 0.00001 (budget 4), noise multiplier 1.1, central</dd>");
    expect(html).toContain("Privacy spent (epsilon at the run&#39;s delta)");
    const plain = renderReport(await readRunData(await runDir([JSON.stringify(round(1, 0.8, 0.5))], summary)));
    expect(plain).not.toContain("differential privacy");
  });
});
