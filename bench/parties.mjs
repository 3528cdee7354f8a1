// parties_200: an aggregator and 200 in-process parties (the real Party class with an
// arithmetic learner: no training) complete 3 rounds of a 1M-parameter model (full; reduced:
// 100k). Reports seconds per round and parties_200_ok = 1 when every round folded all 200.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { Aggregator } from "@cohort/aggregator";
import { Party } from "@cohort/party";
import { ArithmeticLearner, benchChunkSize, floatManifest, now, partyList, silentLogger, tempDir } from "./lib/common.mjs";

export async function parties200({ full }) {
  const count = 200;
  const rounds = 3;
  const params = full ? 1_000_000 : 100_000;
  const manifest = floatManifest(params, 256 * 1024);
  const outputDir = await tempDir("parties");
  const list = partyList(count);
  const aggregator = new Aggregator({
    host: "127.0.0.1", port: 0, chunkSize: benchChunkSize(), algorithm: "fedavg", rounds, numParties: count, percQuorum: 1,
    maxTimeoutMs: 600_000, local: { epochs: 1, batchSize: 32, validationSplit: 0 }, outputDir, parties: list,
  }, silentLogger("aggregator"));
  const port = await aggregator.start();
  const parties = list.map(({ name, token }, i) => new Party({ name, token, host: "127.0.0.1", port, reconnect: { initialDelayMs: 100, maxDelayMs: 1000, maxAttempts: 20 } },
    new ArithmeticLearner(manifest, 10 + i, (i % 7) * 0.01), silentLogger(name)));
  const started = now();
  try {
    const run = aggregator.run();
    await Promise.all(parties.map((p) => p.run()));
    await run;
  } finally {
    parties.forEach((p) => p.close());
    aggregator.forceClose();
  }
  const wall = (now() - started) / 1000;
  const lines = (await readFile(join(outputDir, "metrics.jsonl"), "utf8")).trim().split("\n").map((l) => JSON.parse(l));
  const ok = lines.length === rounds && lines.every((l) => l.parties.length === count);
  const perRound = lines.reduce((s, l) => s + l.ms.round, 0) / 1000 / lines.length;
  return {
    figures: { parties_200_s_per_round: perRound, parties_200_ok: ok ? 1 : 0 },
    detail: `${count} parties, ${params / 1e6}M params, ${lines.length} rounds: ${perRound.toFixed(2)} s/round (metrics ms.round), ${wall.toFixed(1)} s wall incl. joins; folded per round: ${lines.map((l) => l.parties.length).join("/")}`,
  };
}
