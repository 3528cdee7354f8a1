// large_model_ok: a model above 2 GiB (full: 540M float32 parameters in two tensors, 2.16 GB;
// reduced: 256 MiB) is downloaded and uploaded by 2 real parties and aggregated, with the
// default chunks (256 KiB) and no message limit raised. Aggregator in a child process with the
// default staging budget (updates spill to disk); the parties share their downloaded arrays.
import { rm } from "node:fs/promises";
import { Party } from "@cohort/party";
import { manifestByteLength } from "@cohort/tensors";
import { ArithmeticLearner, MiB, now, partyList, silentLogger, spawnAggregator, tempDir } from "./lib/common.mjs";

export async function largeModel({ full }) {
  const manifest = full
    ? { tensors: [{ name: "huge/a", dtype: "float32", shape: [270_000_000] }, { name: "huge/b", dtype: "float32", shape: [270_000_000] }] }
    : { tensors: [{ name: "big/a", dtype: "float32", shape: [32 * MiB] }, { name: "big/b", dtype: "float32", shape: [32 * MiB] }] };
  const total = manifestByteLength(manifest);
  const outputDir = await tempDir("large");
  const started = now();
  const aggregator = await spawnAggregator({ manifest, numParties: 2, rounds: 1, initial: "zeros", outputDir });
  const parties = partyList(2).map(({ name, token }, i) => new Party({ name, token, host: "127.0.0.1", port: aggregator.port, reconnect: { initialDelayMs: 100, maxDelayMs: 1000, maxAttempts: 5 } },
    new ArithmeticLearner(manifest, 100 * (i + 1), i + 1, { shareWeights: true }), silentLogger(name)));
  let summary;
  let peak;
  try {
    const runs = parties.map((p) => p.run());
    ({ summary } = await aggregator.done);
    await Promise.all(runs);
  } finally {
    parties.forEach((p) => p.close());
    peak = await aggregator.finish().catch(() => { aggregator.kill(); return NaN; });
    await rm(outputDir, { recursive: true, force: true });
  }
  const seconds = (now() - started) / 1000;
  const ok = summary?.rounds_completed === 1;
  return {
    figures: { large_model_ok: ok ? 1 : 0, large_model_s: seconds },
    detail: `${(total / 2 ** 30).toFixed(2)} GiB model (${manifest.tensors.length} tensors), 2 parties, 1 round: download + upload + fold + checkpoint + evaluation download in ${seconds.toFixed(1)} s; aggregator peak RSS ${peak.toFixed(0)} MiB`,
  };
}
