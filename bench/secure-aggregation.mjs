// secagg: bytes and seconds per round with and without secure aggregation (SecAgg+) at 3, 10
// and 50 in-process parties (the real Party class, an arithmetic learner: no training) over real
// gRPC on loopback, a 100k-parameter model (--full: 1M). Classic SecAgg (every party a
// neighbour, threshold 2/3) at each size, and SecAgg+ with 12 neighbours at 50.
// Run alone: npm run build && node bench/secure-aggregation.mjs [--full]
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Aggregator } from "@cohort/aggregator";
import { Party } from "@cohort/party";
import { ArithmeticLearner, benchChunkSize, floatManifest, partyList, silentLogger, spawnAggregator, tempDir } from "./lib/common.mjs";

const ROUNDS = 3;

/** One federation; per round (rounds 2.., the first pays for joins): seconds, bytes in/out of the aggregator (uploads, downloads, key phases). */
async function federation(count, params, secureAggregation) {
  const manifest = floatManifest(params, 256 * 1024);
  const outputDir = await tempDir("secagg");
  const list = partyList(count);
  const aggregator = new Aggregator({
    host: "127.0.0.1", port: 0, chunkSize: benchChunkSize(), algorithm: "fedavg", rounds: ROUNDS, numParties: count, percQuorum: 1,
    maxTimeoutMs: 600_000, local: { epochs: 1, batchSize: 32, validationSplit: 0 }, outputDir, parties: list,
    ...(secureAggregation ? { secureAggregation } : {}),
  }, silentLogger("aggregator"));
  const port = await aggregator.start();
  const parties = list.map(({ name, token }, i) => new Party({ name, token, host: "127.0.0.1", port, reconnect: { initialDelayMs: 100, maxDelayMs: 1000, maxAttempts: 20 } },
    new ArithmeticLearner(manifest, 10 + i, (i % 7) * 0.01), silentLogger(name)));
  const cpu = process.cpuUsage();
  try {
    const run = aggregator.run();
    await Promise.all(parties.map((p) => p.run()));
    const summary = await run;
    if (summary.rounds_completed !== ROUNDS) throw new Error(`${count} parties: ${summary.stopped_because}`);
  } finally {
    parties.forEach((p) => p.close());
    aggregator.forceClose();
  }
  // CPU of this process (aggregator and parties alike), all rounds and joins: less sensitive to a busy machine than wall time.
  const used = process.cpuUsage(cpu);
  const cpuSeconds = (used.user + used.system) / 1e6 / ROUNDS;
  const lines = (await readFile(join(outputDir, "metrics.jsonl"), "utf8")).trim().split("\n").map((l) => JSON.parse(l)).slice(1);
  const mean = (f) => lines.reduce((s, l) => s + f(l), 0) / lines.length;
  const keys = (l, way) => l.fusion?.secure_aggregation?.[`key_bytes_${way}`] ?? 0;
  return {
    seconds: mean((l) => l.ms.round) / 1000,
    cpuSeconds,
    bytesIn: mean((l) => l.bytes_in + keys(l, "in")),
    bytesOut: mean((l) => l.bytes_out + keys(l, "out")),
    keyBytes: mean((l) => keys(l, "in") + keys(l, "out")),
  };
}

/**
 * Peak resident memory (VmHWM) of an aggregator in a child process through 2 rounds with `count`
 * real parties (in this process), with or without secure aggregation (SecAgg+, 4 neighbours,
 * so that 30 parties' masking stays cheap here): the masked sum is one more 4-byte array per
 * parameter, flat in the number of parties.
 */
async function aggregatorPeakMiB(count, params, secureAggregation) {
  const manifest = floatManifest(params, 256 * 1024);
  const aggregator = await spawnAggregator({ manifest, numParties: count, rounds: 2, initial: "zeros", outputDir: await tempDir("secagg-rss"), ...(secureAggregation ? { secureAggregation } : {}) });
  const parties = partyList(count).map(({ name, token }, i) => new Party({ name, token, host: "127.0.0.1", port: aggregator.port }, new ArithmeticLearner(manifest, 10 + i, 0.01), silentLogger(name)));
  try {
    await Promise.all([...parties.map((p) => p.run()), aggregator.done]);
  } finally {
    parties.forEach((p) => p.close());
  }
  return aggregator.finish();
}

export async function secureAggregationCost({ full }) {
  const params = full ? 1_000_000 : 100_000;
  const figures = {};
  const rows = [];
  for (const [count, label, config] of [[3, "", {}], [10, "", {}], [50, "", {}], [50, "_k12", { neighbours: 12 }]]) {
    const plain = label ? undefined : await federation(count, params, undefined);
    const secure = await federation(count, params, config);
    const name = `secagg_${count}${label}`;
    figures[`${name}_s_per_round`] = secure.seconds;
    figures[`${name}_bytes_per_round`] = secure.bytesIn + secure.bytesOut;
    figures[`${name}_cpu_s_per_round`] = secure.cpuSeconds;
    if (plain) {
      figures[`plain_${count}_s_per_round`] = plain.seconds;
      figures[`plain_${count}_bytes_per_round`] = plain.bytesIn + plain.bytesOut;
      figures[`plain_${count}_cpu_s_per_round`] = plain.cpuSeconds;
    }
    rows.push(`${count} parties${label ? ` (SecAgg+ k=12)` : ""}: ${plain ? `plain ${plain.seconds.toFixed(2)} s (cpu ${plain.cpuSeconds.toFixed(2)} s), ${(plain.bytesIn / 1e6).toFixed(1)} MB in + ${(plain.bytesOut / 1e6).toFixed(1)} MB out; ` : ""}secure ${secure.seconds.toFixed(2)} s (cpu ${secure.cpuSeconds.toFixed(2)} s), ${(secure.bytesIn / 1e6).toFixed(1)} MB in + ${(secure.bytesOut / 1e6).toFixed(1)} MB out (key phases ${(secure.keyBytes / 1e3).toFixed(1)} kB)`);
  }
  const rssParams = full ? 10_000_000 : 1_000_000;
  const peaks = [];
  for (const count of [3, 10, 30]) {
    const plain = await aggregatorPeakMiB(count, rssParams, undefined);
    const secure = await aggregatorPeakMiB(count, rssParams, { neighbours: 4 });
    figures[`plain_rss_mb_n${count}`] = Math.round(plain * 1.048576);
    figures[`secagg_rss_mb_n${count}`] = Math.round(secure * 1.048576);
    peaks.push(`n${count} ${figures[`plain_rss_mb_n${count}`]} / ${figures[`secagg_rss_mb_n${count}`]} MB`);
  }
  return { figures, detail: `${params / 1e3}k params, mean of rounds 2-${ROUNDS}: ${rows.join("; ")}; aggregator peak RSS plain / secure (SecAgg+ k=4), ${rssParams / 1e6}M params: ${peaks.join(", ")}` };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { figures, detail } = await secureAggregationCost({ full: process.argv.includes("--full") });
  console.log(JSON.stringify(figures, null, 1));
  console.log(detail);
  process.exit(0);
}
