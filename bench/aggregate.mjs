// aggregate_vs_memcpy: bytes of float32 updates folded per second by WeightedSum.fold (FedAvg,
// float64 running sum, updates staged in memory) divided by the bytes per second of a plain
// copy (TypedArray.set, i.e. memcpy) of the same staged bytes into another buffer. Same process.
import { UpdateStaging, WeightedSum } from "@cohort/fusion";
import { manifestByteLength } from "@cohort/tensors";
import { floatManifest, mbps, median, now, rate, tempDir } from "./lib/common.mjs";

export async function aggregateVsMemcpy({ full }) {
  const params = full ? 100_000_000 : 16_000_000;
  const parties = full ? 4 : 3;
  const manifest = floatManifest(params, 16 * 1024 * 1024);
  const total = manifestByteLength(manifest);
  const staging = new UpdateStaging({ dir: await tempDir("fold"), memoryBudgetBytes: parties * total });
  const staged = [];
  for (let p = 0; p < parties; p++) {
    const writer = await staging.begin(total);
    const values = new Float32Array(params);
    for (let i = 0; i < params; i++) values[i] = ((i * 2654435761) % 1000) / 1000 - 0.5 + p;
    await writer.write(new Uint8Array(values.buffer));
    staged.push(await writer.commit());
  }

  // Baseline: copy each staged update into one destination buffer (memcpy of the same bytes).
  const destination = new Uint8Array(total);
  const copyMs = [];
  for (let rep = 0; rep < 3; rep++) {
    const t = now();
    for (const s of staged) destination.set(await s.read(0, total));
    copyMs.push(now() - t);
  }
  // One WeightedSum reset per round, as the aggregator keeps it (reset is not timed: it runs at round start).
  const foldMs = [];
  const sum = new WeightedSum(manifest);
  for (let rep = 0; rep < 3; rep++) {
    sum.reset();
    const t = now();
    for (const [p, s] of staged.entries()) await sum.fold(s, 100 * (p + 1));
    foldMs.push(now() - t);
  }
  for (const s of staged) await s.release();
  const bytes = parties * total;
  const fold = rate(bytes, median(foldMs));
  const copy = rate(bytes, median(copyMs));
  return {
    figures: { aggregate_vs_memcpy: fold / copy },
    detail: `fold ${mbps(fold)} vs memcpy ${mbps(copy)} (${parties} updates x ${(total / 1e6).toFixed(0)} MB, memory staging, median of 3)`,
  };
}
