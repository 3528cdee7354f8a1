// DP-FedAvg on MNIST (issue 17): N in-process parties (the real Party class, TF.js learners on
// disjoint shards of the embedded digits) and an aggregator over loopback gRPC, central DP,
// every party every round (q = 1), for each target epsilon the noise multiplier that spends
// exactly that epsilon in R rounds at delta (found with the run's own RDP accountant), plus a
// run without DP and one with clipping alone (z = 0) as references. Prints one line per run and
// writes bench/results/dp-mnist-<mode>-<parties>.json.
// Usage: node bench/dp-mnist.mjs [--parties=100] [--rounds=15] [--clip=0.5] [--epsilons=1,3,8] [--delta=1e-5] [--lr=0.01] [--mode=central] [--baselines=0] [--quorum=0.9]
// Needs the built packages (npx tsc -b tsconfig.json).
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Aggregator } from "@cohort/aggregator";
import { loadDataset } from "@cohort/data";
import { RdpAccountant } from "@cohort/fusion";
import { createMnistCnn, getWeights, modelManifest, selectBackend } from "@cohort/models";
import { Party, TfjsLearner } from "@cohort/party";
import { createLogger } from "@cohort/telemetry";
import { packWeights } from "@cohort/tensors";
import { partyList, silentLogger, tempDir } from "./lib/common.mjs";

const arg = (name, fallback) => process.argv.slice(2).find((a) => a.startsWith(`--${name}=`))?.split("=")[1] ?? fallback;
const PARTIES = Number(arg("parties", 100));
const ROUNDS = Number(arg("rounds", 15));
const CLIP = Number(arg("clip", 0.5));
const DELTA = Number(arg("delta", 1e-5));
const LR = Number(arg("lr", 0.01));
const MODE = arg("mode", "central");
const EPSILONS = arg("epsilons", "1,3,8").split(",").map(Number);
const BASELINES = arg("baselines", "1") !== "0";
const QUORUM = Number(arg("quorum", 0.9));

/** The smallest noise multiplier (to 3 digits) whose epsilon after ROUNDS rounds at q = 1 is at most `target`. */
function noiseFor(target) {
  const epsilon = (z) => { const a = new RdpAccountant(); a.compose({ samplingRate: 1, noiseMultiplier: z }, ROUNDS); return a.epsilon(DELTA).epsilon; };
  let lo = 0.05, hi = 200;
  for (let k = 0; k < 40; k++) { const mid = (lo + hi) / 2; if (epsilon(mid) > target) lo = mid; else hi = mid; }
  return { z: Math.ceil(hi * 1000) / 1000, epsilon: epsilon(Math.ceil(hi * 1000) / 1000) };
}

async function federation(label, privacy, initial, backend) {
  const outputDir = await tempDir("dp-mnist");
  const list = partyList(PARTIES);
  const aggregator = new Aggregator({
    // A party that misses a round on this loaded machine must not fail the run (DP accounts any count).
    host: "127.0.0.1", port: 0, chunkSize: 64 * 1024, algorithm: "fedavg", rounds: ROUNDS, numParties: PARTIES, percQuorum: QUORUM,
    maxTimeoutMs: 1_200_000, evaluateEvery: ROUNDS, local: { epochs: 1, batchSize: 32, validationSplit: 0, lr: LR }, outputDir, parties: list,
    ...(privacy ? { privacy } : {}),
  }, warningsLogger(), { initialModel: initial });
  const port = await aggregator.start();
  const learners = await Promise.all(list.map(async (_, i) => {
    const dataset = await loadDataset({ name: "mnist", info: { party_index: i, num_parties: PARTIES } }, { baseDir: process.cwd() });
    return new TfjsLearner(createMnistCnn(), dataset, backend, `party${i}`);
  }));
  const parties = list.map(({ name, token }, i) => new Party({ name, token, host: "127.0.0.1", port, reconnect: { initialDelayMs: 100, maxDelayMs: 1000, maxAttempts: 20 } }, learners[i], silentLogger(name)));
  const started = performance.now();
  let summary;
  try {
    const runs = parties.map((p) => p.run().catch((error) => console.error(`party: ${error.message}`)));
    summary = await aggregator.run();
    // A party still training when a failed round ends the run must not hold the benchmark.
    parties.forEach((p) => p.close());
    await Promise.all(runs);
  } finally {
    parties.forEach((p) => p.close());
    aggregator.forceClose();
  }
  const lines = (await readFile(join(outputDir, "metrics.jsonl"), "utf8")).trim().split("\n").map((l) => JSON.parse(l));
  const last = lines.at(-1);
  const result = {
    label, accuracy: summary.final.accuracy, rounds: summary.rounds_completed, epsilon: last.privacy?.epsilon ?? null,
    noise_multiplier: privacy?.noiseMultiplier ?? null, unclipped_per_round: lines.map((l) => l.fusion?.privacy?.unclipped ?? null),
    parties_per_round: lines.map((l) => l.parties.length), stopped_because: summary.stopped_because, wall_s: (performance.now() - started) / 1000,
  };
  console.log(JSON.stringify(result));
  return result;
}

/** The aggregator's warnings and errors (a party dropped, a round failed) on stderr; the rest silent. */
function warningsLogger() {
  return createLogger({ service: "aggregator", level: "warn", destination: process.stderr });
}

const backend = (await selectBackend("auto")).name;
const model = createMnistCnn();
const initial = { manifest: modelManifest(model), bytes: packWeights(getWeights(model)), topology: JSON.stringify(model.toJSON(undefined, false)) };
console.log(`dp-mnist: ${PARTIES} parties, ${ROUNDS} rounds, clip ${CLIP}, delta ${DELTA}, mode ${MODE}, backend ${backend}, lr ${LR}`);
const base = { mode: MODE, clippingNorm: CLIP, delta: DELTA, samplingRate: 1 };
const results = BASELINES ? [await federation("no DP", undefined, initial, backend), await federation("clipping only (z = 0)", { ...base, noiseMultiplier: 0 }, initial, backend)] : [];
for (const target of EPSILONS) {
  const { z, epsilon } = noiseFor(target);
  results.push(await federation(`epsilon ${target}`, { ...base, noiseMultiplier: z, targetEpsilon: target }, initial, backend));
  results.at(-1).planned_epsilon = epsilon;
}
const out = join(fileURLToPath(new URL(".", import.meta.url)), "results");
await mkdir(out, { recursive: true });
await writeFile(join(out, `dp-mnist-${MODE}-${PARTIES}.json`), JSON.stringify({ parties: PARTIES, rounds: ROUNDS, clip: CLIP, delta: DELTA, mode: MODE, lr: LR, backend, results }, null, 1));
