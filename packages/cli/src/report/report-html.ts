import { relative } from "node:path";
import type { RoundMetrics } from "@cohort/aggregator";
import type { RunData } from "./run-data.js";
import { type Series, escapeXml as esc, lineChart, stackedBarChart } from "./svg-chart.js";

const MIB = 1024 * 1024;
const fixed = (digits: number) => (v: number) => v.toFixed(digits);
const seconds = (v: number) => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));
const mib = (v: number) => (v >= 100 ? v.toFixed(0) : v >= 1 ? v.toFixed(1) : v.toFixed(3));

/** The charts of a report, by name: the HTML embeds them, and `cohort report --svg` writes each as a file. */
export function reportCharts(data: RunData): Record<string, string> {
  const rounds = data.rounds;
  const metricSeries = (name: string, pick: (r: RoundMetrics) => number | undefined): Series =>
    ({ name, points: rounds.flatMap((r) => { const v = pick(r); return typeof v === "number" && Number.isFinite(v) ? [[r.round, v] as [number, number]] : []; }) });
  const parties = [...new Set(rounds.flatMap((r) => Object.keys(r.by_party ?? {})))].sort();
  const perParty = (pick: (p: NonNullable<RoundMetrics["by_party"]>[string]) => number | undefined) =>
    parties.map((party) => metricSeries(party, (r) => { const p = r.by_party?.[party]; return p ? pick(p) : undefined; }));
  const roundNumbers = rounds.map((r) => r.round);
  const charts: Record<string, string> = {
    // The aggregator's own held-out data (its config's data section) only when the run had one.
    accuracy: lineChart([
      metricSeries("global (held-out)", (r) => r.eval.accuracy), metricSeries("training (weighted)", (r) => r.train.accuracy),
      ...(rounds.some((r) => r.aggregator_eval) ? [metricSeries("global (aggregator's data)", (r) => r.aggregator_eval?.accuracy)] : []),
    ],
      { title: "Accuracy per round", yLabel: "accuracy", format: fixed(3) }),
    loss: lineChart([
      metricSeries("global (held-out)", (r) => r.eval.loss), metricSeries("training (weighted)", (r) => r.train.loss),
      ...(rounds.some((r) => r.aggregator_eval?.loss !== undefined) ? [metricSeries("global (aggregator's data)", (r) => r.aggregator_eval?.loss)] : []),
    ],
      { title: "Loss per round", yLabel: "loss", format: fixed(3) }),
    timings: stackedBarChart(roundNumbers, (["train", "fuse", "checkpoint", "eval"] as const).map((phase) => ({ name: phase, values: rounds.map((r) => (r.ms?.[phase] ?? 0) / 1000) })),
      { title: "Round timings by phase", yLabel: "seconds", format: seconds }),
    bytes: stackedBarChart(roundNumbers, [{ name: "in (updates)", values: rounds.map((r) => r.bytes_in / MIB) }, { name: "out (global models)", values: rounds.map((r) => r.bytes_out / MIB) }],
      { title: "Bytes moved per round", yLabel: "MiB", format: mib }),
  };
  if (rounds.some((r) => r.privacy)) {
    charts.privacy = lineChart([metricSeries("epsilon", (r) => r.privacy?.epsilon)], { title: "Privacy spent (epsilon at the run's delta)", yLabel: "epsilon", format: fixed(2) });
  }
  if (parties.length > 0) {
    charts["party-loss"] = lineChart(perParty((p) => p.train.loss), { title: "Local training loss per party", yLabel: "loss", format: fixed(3) });
    charts["party-accuracy"] = lineChart(perParty((p) => p.eval.accuracy ?? p.train.accuracy), { title: "Accuracy per party (its held-out data)", yLabel: "accuracy", format: fixed(3) });
  }
  return charts;
}

/** The aggregator's last evaluation on its own held-out data, as report facts (none when the run had no data section). */
function aggregatorFacts(evaluation: Record<string, number> | undefined): [string, string][] {
  if (!evaluation) return [];
  const facts: [string, string][] = [["final accuracy (aggregator's data)", `${num(evaluation.accuracy, 4)} on ${evaluation.examples ?? "?"} examples`]];
  if (evaluation.loss !== undefined) facts.push(["final loss (aggregator's data)", num(evaluation.loss, 4)]);
  return facts;
}

/** A DP run's (epsilon, delta) and noise, as report facts (none without differential privacy). */
function privacyFacts(privacy: { epsilon: number; delta: number; noise_multiplier: number; mode?: string; target_epsilon?: number } | undefined): [string, string][] {
  if (!privacy) return [];
  const budget = privacy.target_epsilon === undefined ? "" : ` (budget ${privacy.target_epsilon})`;
  return [["differential privacy", `epsilon ${num(privacy.epsilon, 3)} at delta ${privacy.delta}${budget}, noise multiplier ${privacy.noise_multiplier}${privacy.mode ? `, ${privacy.mode}` : ""}`]];
}

/** A self-contained HTML page (inline CSS and SVG, no scripts, no external assets) about one run. */
export function renderReport(data: RunData, generatedAt = new Date()): string {
  const charts = reportCharts(data);
  const { summary, rounds } = data;
  const last = rounds[rounds.length - 1];
  const total = (pick: (r: RoundMetrics) => number) => rounds.reduce((n, r) => n + (pick(r) || 0), 0);
  const facts: [string, string][] = [
    ["rounds completed", String(summary?.rounds_completed ?? rounds.length)],
    ["final accuracy", num(summary?.final.accuracy ?? last?.eval.accuracy, 4)],
    ["final loss", num(summary?.final.loss ?? last?.eval.loss, 4)],
    ...aggregatorFacts(summary?.aggregator_eval ?? last?.aggregator_eval),
    ["parties", (summary?.parties ?? [...new Set(rounds.flatMap((r) => r.parties))]).join(", ") || "n/a"],
    ["fusion", summary?.fusion ?? "n/a"],
    ["wall time", summary ? `${summary.wall_seconds.toFixed(1)} s` : "n/a (run unfinished)"],
    ["stopped because", summary?.stopped_because ?? "n/a (no summary.json)"],
    ...privacyFacts(summary?.privacy ?? last?.privacy),
    ["bytes in / out", `${(total((r) => r.bytes_in) / MIB).toFixed(2)} MiB / ${(total((r) => r.bytes_out) / MIB).toFixed(2)} MiB`],
  ];
  // Exported files sit inside the run directory: their relative paths say it in far fewer characters.
  if (summary?.exported?.length) facts.push(["exported", summary.exported.map((f) => (f.startsWith(data.dir) ? relative(data.dir, f) : f)).join(", ")]);
  const figure = (name: string) => (charts[name] ? `<figure>${charts[name]}</figure>` : "");
  const partySection = charts["party-loss"]
    ? `<h2>Per party</h2><div class="grid">${figure("party-loss")}${figure("party-accuracy")}</div>${partyTable(rounds)}`
    : `<h2>Per party</h2><p class="note">This run's metrics.jsonl has no per-party numbers (by_party); runs of this version record them.</p>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Cohort run report: ${esc(data.dir)}</title>
<style>${CSS}</style></head>
<body><main>
<h1>Cohort run report</h1>
<p class="sub">${esc(data.dir)} · generated ${esc(generatedAt.toISOString())}${data.skippedLines ? ` · ${data.skippedLines} unreadable line(s) of metrics.jsonl skipped` : ""}</p>
<dl class="facts">${facts.map(([k, v]) => `<div><dt>${esc(k)}</dt><dd>${esc(v)}</dd></div>`).join("")}</dl>
<h2>Global model</h2><div class="grid">${figure("accuracy")}${figure("loss")}${figure("privacy")}</div>
${partySection}
<h2>Rounds</h2><div class="grid">${figure("timings")}${figure("bytes")}</div>
${roundTable(rounds)}
</main></body></html>
`;
}

function num(value: number | null | undefined, digits: number): string {
  return typeof value === "number" && Number.isFinite(value) ? value.toFixed(digits) : "n/a";
}

function roundTable(rounds: RoundMetrics[]): string {
  const ownData = rounds.some((r) => r.aggregator_eval);
  const head = ["round", "parties", "missing", "examples", "accuracy", ...(ownData ? ["aggregator's accuracy"] : []), "loss", "train loss", "train s", "fuse ms", "checkpoint ms", "eval s", "round s", "in MiB", "out MiB"];
  const rows = rounds.map((r) => [
    String(r.round), String(r.parties.length), r.missing.join(", ") || "–", String(r.examples), num(r.eval.accuracy, 4),
    ...(ownData ? [num(r.aggregator_eval?.accuracy, 4)] : []), num(r.eval.loss, 4), num(r.train.loss, 4),
    num(r.ms.train / 1000, 2), String(r.ms.fuse), String(r.ms.checkpoint), num(r.ms.eval / 1000, 2), num(r.ms.round / 1000, 2), num(r.bytes_in / MIB, 2), num(r.bytes_out / MIB, 2),
  ]);
  return table(head, rows);
}

function partyTable(rounds: RoundMetrics[]): string {
  const parties = [...new Set(rounds.flatMap((r) => Object.keys(r.by_party ?? {})))].sort();
  const rows = parties.map((party) => {
    const entries = rounds.map((r) => r.by_party?.[party]).filter((p) => p !== undefined);
    const last = entries[entries.length - 1];
    const meanSeconds = entries.reduce((n, p) => n + p.train_seconds, 0) / Math.max(1, entries.length);
    return [party, String(entries.length), String(last?.examples ?? "n/a"), num(last?.train.loss, 4), num(last?.train.accuracy, 4), num(last?.eval.accuracy, 4), num(meanSeconds, 2)];
  });
  return table(["party", "rounds contributed", "examples (last)", "train loss (last)", "train accuracy (last)", "held-out accuracy (last)", "mean train s"], rows);
}

function table(head: string[], rows: string[][]): string {
  return `<table><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join("")}</tr></thead><tbody>${rows.map((row) => `<tr>${row.map((c) => `<td>${esc(c)}</td>`).join("")}</tr>`).join("")}</tbody></table>`;
}

const CSS = `
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1b1f24;background:#f6f7f9}
main{max-width:1160px;margin:0 auto;padding:24px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 10px}
.sub,.note{color:#57606a;margin:0 0 16px}
.facts{display:grid;grid-template-columns:repeat(auto-fill,minmax(200px,1fr));gap:8px;margin:0}
.facts div{background:#fff;border:1px solid #d8dee4;border-radius:6px;padding:8px 12px}
dt{color:#57606a;font-size:12px}dd{margin:0;font-weight:600;overflow-wrap:anywhere}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(540px,1fr));gap:12px}
figure{margin:0;background:#fff;border:1px solid #d8dee4;border-radius:6px;padding:8px}
svg{width:100%;height:auto;display:block}
svg .title{font-weight:600;font-size:14px;fill:#1b1f24}svg .tick,svg .legend{font-size:11px;fill:#424a53}
svg .axis{font-size:11px;fill:#57606a}svg .gridline{stroke:#eaeef2}svg .empty{fill:#8c959f}
table{border-collapse:collapse;width:100%;background:#fff;margin-top:12px;font-size:12px}
th,td{border:1px solid #d8dee4;padding:4px 6px;text-align:right}th{background:#f0f2f4}
td:first-child,th:first-child{text-align:left}
`;
