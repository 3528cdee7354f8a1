// Cohort's benchmark suite (issue 5). Every figure is a ratio against a baseline measured in
// the same run, or a size/flag; all are written to bench/results/latest.json as {"name": value}.
// Usage: npm run bench [-- --full] [-- --only=aggregate,transfer,...]
// Default (reduced) sizes finish in a few minutes on 2 cores; --full uses the issue's sizes.
// Targets are printed, never asserted; the run fails only when a benchmark breaks (throws, or
// a federation does not complete), so CI catches regressions in the code paths.
import { mkdir, writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { aggregateVsMemcpy } from "./aggregate.mjs";
import { uploadDownloadVsTcp } from "./transfer.mjs";
import { aggregatorRss } from "./rss.mjs";
import { robustRss } from "./robust-rss.mjs";
import { roundOverhead } from "./round-overhead.mjs";
import { parties200 } from "./parties.mjs";
import { largeModel } from "./large-model.mjs";
import { trainVsFrameworks } from "./train.mjs";
import { compressionError } from "./compression.mjs";
import { secureAggregationCost } from "./secure-aggregation.mjs";
import { PARTY_HEAP_GROWING_PERCENT, tuneHeapGrowth } from "@cohort/wire";

tuneHeapGrowth(PARTY_HEAP_GROWING_PERCENT); // this process plays the parties, as `cohort party` does

const args = process.argv.slice(2);
const full = args.includes("--full");
const only = args.find((a) => a.startsWith("--only="))?.slice(7).split(",");

const BENCHMARKS = [
  ["aggregate", aggregateVsMemcpy],
  ["transfer", uploadDownloadVsTcp],
  ["rss", aggregatorRss],
  ["robust", robustRss],
  ["parties", parties200],
  ["large", largeModel],
  ["round", roundOverhead],
  ["train", trainVsFrameworks],
  ["compression", compressionError],
  ["secagg", secureAggregationCost],
];

/** What each figure aims at (printed next to it; not asserted). */
const TARGETS = {
  aggregate_vs_memcpy: [">=", 0.5], upload_vs_tcp: [">=", 0.5], download_vs_tcp: [">=", 0.5], train_vs_keras: [">=", 0.8], train_vs_torch: [">=", 0.5], wasm_threads_vs_one: [">=", 1.7],
  round_overhead: ["<=", 0.05], parties_200_ok: ["==", 1], large_model_ok: ["==", 1], aggregator_rss_vs_target: ["<=", 1], robust_rss_vs_target: ["<=", 1],
};

const results = {};
const failures = [];
console.log(`cohort bench (${full ? "full" : "reduced"} sizes), node ${process.version}`);
for (const [key, bench] of BENCHMARKS) {
  if (only && !only.includes(key)) continue;
  const started = performance.now();
  try {
    const { figures, ratios = {}, detail, skipped } = await bench({ full });
    Object.assign(results, figures);
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    for (const [name, value] of Object.entries({ ...figures, ...ratios })) {
      const target = TARGETS[name];
      const met = target && ({ ">=": value >= target[1], "<=": value <= target[1], "==": value === target[1] })[target[0]];
      console.log(`  ${name.padEnd(28)} ${format(value).padStart(10)}${target ? `   target ${target[0]} ${target[1]}: ${met ? "met" : "NOT met"}` : ""}`);
    }
    if (skipped) console.log(`  ${skipped}`);
    console.log(`    ${detail} [${seconds} s]`);
    if (figures.parties_200_ok === 0 || figures.large_model_ok === 0) failures.push(`${key}: the federation did not complete`);
  } catch (error) {
    failures.push(`${key}: ${error instanceof Error ? error.message : String(error)}`);
    console.log(`  ${key} FAILED: ${error instanceof Error ? error.stack : error}`);
  }
}

const file = fileURLToPath(new URL("./results/latest.json", import.meta.url));
await mkdir(fileURLToPath(new URL("./results/", import.meta.url)), { recursive: true });
await writeFile(file, `${JSON.stringify(results, null, 2)}\n`);
console.log(`wrote ${file}`);
if (failures.length) {
  console.log(`benchmarks that broke:\n  ${failures.join("\n  ")}`);
  process.exit(1);
}
process.exit(0);

function format(value) {
  if (Number.isInteger(value)) return String(value);
  if (value !== 0 && Math.abs(value) < 0.01) return value.toExponential(2);
  return value.toFixed(value < 10 ? 3 : 1);
}
