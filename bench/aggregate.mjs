// aggregate_vs_memcpy: bytes of float32 updates folded per second (FedAvg, float64 running sum,
// updates staged in memory) divided by the bytes per second of a plain copy (TypedArray.set,
// i.e. memcpy) of the same staged bytes into another buffer. Same process, repetitions interleaved.
//
// The fold is the aggregator's path when verified updates queue behind a running fold:
// WeightedSum.foldQueued, which folds the waiting updates together, up to MAX_FOLD_GROUP per pass
// over the sums. Here every update is waiting (all staged before the clock starts), so the 3
// (reduced) or 4 (full) updates fold in one pass. aggregate_one_at_a_time_vs_memcpy is the same
// fold one update per pass (WeightedSum.fold in turn: the aggregator's path when each update's
// fold ends before the next update arrives), for comparison.
//
// Updates are staged as the aggregator stages them: the accumulator exists first, with an arena
// the size of the staging budget in its WebAssembly memory, and memory-staged updates are
// allocated there (UpdateStaging.allocator), so the fold reads them in place. The memcpy baseline
// copies those same staged bytes.
import { MAX_FOLD_GROUP, UpdateStaging, WeightedSum } from "@cohort/fusion";
import { manifestByteLength } from "@cohort/tensors";
import { floatManifest, mbps, median, now, rate, tempDir } from "./lib/common.mjs";

const REPETITIONS = 5;

export async function aggregateVsMemcpy({ full }) {
  const params = full ? 100_000_000 : 16_000_000;
  const parties = full ? 4 : 3;
  const manifest = floatManifest(params, 16 * 1024 * 1024);
  const total = manifestByteLength(manifest);
  const staging = new UpdateStaging({ dir: await tempDir("fold"), memoryBudgetBytes: parties * total });
  const sum = new WeightedSum(manifest, { arenaBytes: staging.memoryBudget(total) });
  staging.allocator = (bytes) => sum.allocateStaging(bytes);
  const staged = [];
  for (let p = 0; p < parties; p++) {
    const writer = await staging.begin(total);
    const values = new Float32Array(params);
    for (let i = 0; i < params; i++) values[i] = ((i * 2654435761) % 1000) / 1000 - 0.5 + p;
    await writer.write(new Uint8Array(values.buffer));
    staged.push(await writer.commit());
  }
  const weight = (p) => 100 * (p + 1);

  // One WeightedSum, reset per round as the aggregator keeps it (reset is not timed: it runs at
  // round start). Each repetition times the three in turn, so they share the machine's state.
  const destination = new Uint8Array(total);
  const copyMs = [];
  const queuedMs = [];
  const oneMs = [];
  for (let rep = 0; rep < REPETITIONS; rep++) {
    let t = now();
    for (const s of staged) destination.set(await s.read(0, total));
    copyMs.push(now() - t);

    sum.reset();
    t = now();
    await Promise.all(staged.map((s, p) => sum.foldQueued(s, weight(p))));
    queuedMs.push(now() - t);

    sum.reset();
    t = now();
    for (const [p, s] of staged.entries()) await sum.fold(s, weight(p));
    oneMs.push(now() - t);
  }
  for (const s of staged) await s.release();
  const bytes = parties * total;
  const copy = rate(bytes, median(copyMs));
  const queued = rate(bytes, median(queuedMs));
  const one = rate(bytes, median(oneMs));
  const perPass = Math.min(parties, MAX_FOLD_GROUP);
  return {
    figures: { aggregate_vs_memcpy: queued / copy, aggregate_one_at_a_time_vs_memcpy: one / copy },
    detail: `queued fold (${perPass} updates per pass) ${mbps(queued)}, one at a time ${mbps(one)}, vs memcpy ${mbps(copy)} ` +
      `(${parties} updates x ${(total / 1e6).toFixed(0)} MB, memory staging, median of ${REPETITIONS})`,
  };
}
