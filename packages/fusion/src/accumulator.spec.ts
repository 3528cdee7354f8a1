import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { type Manifest, packWeights, unpackWeights, type WeightSet } from "@cohort/tensors";
import { WeightedSum } from "./accumulator.js";
import { fusionAlgorithm } from "./algorithm.js";
import { UpdateStaging, defaultStagingBudget } from "./staging.js";

const manifest: Manifest = {
  tensors: [
    { name: "conv/kernel", dtype: "float32", shape: [3, 3, 1, 4] },
    { name: "conv/bias", dtype: "float32", shape: [4] },
    { name: "empty", dtype: "float32", shape: [0] },
    { name: "dense/kernel", dtype: "float32", shape: [1000, 3] },
  ],
};

function party(seed: number): WeightSet {
  let s = seed * 7919 + 1;
  const rand = () => ((s = (s * 16807) % 2147483647) / 2147483647) * 2 - 1;
  return manifest.tensors.map((t) => {
    const n = t.shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = rand() * 10 ** (seed % 3);
    return { ...t, data };
  });
}

let dir: string;
afterEach(async () => { if (dir) await rm(dir, { recursive: true, force: true }); });

async function stage(staging: UpdateStaging, weights: WeightSet) {
  const bytes = packWeights(weights);
  const writer = await staging.begin(bytes.byteLength);
  for (let i = 0; i < bytes.byteLength; i += 333) await writer.write(bytes.subarray(i, Math.min(i + 333, bytes.byteLength)));
  return writer.commit();
}

describe("WeightedSum", () => {
  it.each([["memory", 1 << 30], ["disk", 0]])("matches a float64 FedAvg reference for 5 parties with unequal examples (%s staging)", async (_kind, budget) => {
    dir = await mkdtemp(join(tmpdir(), "cohort-fusion-"));
    const staging = new UpdateStaging({ dir, memoryBudgetBytes: budget as number });
    const examples = [10, 250, 3, 1200, 77];
    const updates = examples.map((_, i) => party(i + 1));
    const fedavg = fusionAlgorithm("fedavg");
    const sum = new WeightedSum(manifest);
    for (let p = 0; p < updates.length; p++) {
      const staged = await stage(staging, updates[p]);
      await sum.fold(staged, fedavg.weightOf({ numExamples: examples[p] }));
      await staged.release();
    }
    const result = unpackWeights(manifest, sum.result());
    const total = examples.reduce((a, b) => a + b, 0);
    result.forEach((t, ti) => {
      for (let i = 0; i < t.data.length; i++) {
        let reference = 0;
        for (let p = 0; p < updates.length; p++) reference += (examples[p] / total) * (updates[p][ti].data[i] as number);
        expect(t.data[i]).toBe(Math.fround(reference));
      }
    });
    expect(await readdir(dir)).toEqual([]);
    expect(staging.reservedBytes).toBe(0);
  });

  it("reset() starts a new round on the same buffer: the same result as a fresh sum, written into a reused buffer", async () => {
    const staging = new UpdateStaging({ dir: tmpdir(), memoryBudgetBytes: 1 << 30 });
    const reused = new WeightedSum(manifest);
    const first = await stage(staging, party(1));
    await reused.fold(first, 5);
    await first.release();
    const out = reused.result();
    reused.reset();
    expect(reused.count).toBe(0);
    expect(reused.totalWeight).toBe(0);
    expect(() => reused.result()).toThrow(/no update was folded/);

    const fresh = new WeightedSum(manifest);
    for (const [seed, weight] of [[2, 3], [3, 40]]) {
      const staged = await stage(staging, party(seed));
      await reused.fold(staged, weight);
      await fresh.fold(staged, weight);
      await staged.release();
    }
    const into = reused.result(out);
    expect(into).toBe(out);
    expect([...into]).toEqual([...fresh.result()]);
    expect(() => reused.result(new Uint8Array(3))).toThrow(RangeError);
  });

  it("IterAvg is the unweighted mean", async () => {
    const staging = new UpdateStaging({ dir: tmpdir(), memoryBudgetBytes: 1 << 30 });
    const iteravg = fusionAlgorithm("iteravg");
    const sum = new WeightedSum(manifest);
    const updates = [party(4), party(5), party(6)];
    for (const [p, u] of updates.entries()) await sum.fold(await stage(staging, u), iteravg.weightOf({ numExamples: (p + 1) * 1000 }));
    const result = unpackWeights(manifest, sum.result());
    const i = 17;
    const mean = (updates[0][3].data[i] as number) / 3 + (updates[1][3].data[i] as number) / 3 + (updates[2][3].data[i] as number) / 3;
    expect(result[3].data[i]).toBeCloseTo(mean, 5);
    expect(sum.count).toBe(3);
  });

  it("an aborted upload leaves no trace in the aggregate", async () => {
    dir = await mkdtemp(join(tmpdir(), "cohort-fusion-"));
    const staging = new UpdateStaging({ dir, memoryBudgetBytes: 0 });
    const withAbort = new WeightedSum(manifest);
    const without = new WeightedSum(manifest);
    await withAbort.fold(await stage(staging, party(1)), 5);
    const partial = await staging.begin(packWeights(party(2)).byteLength);
    await partial.write(packWeights(party(2)).subarray(0, 1000));
    await partial.abort();
    await withAbort.fold(await stage(staging, party(3)), 7);
    await without.fold(await stage(staging, party(1)), 5);
    await without.fold(await stage(staging, party(3)), 7);
    expect(Buffer.from(withAbort.result()).equals(Buffer.from(without.result()))).toBe(true);
  });

  it("the WebAssembly SIMD kernels match the JS loops bit for bit: odd tensor sizes, -0, mixed dtypes, segment borders, scratch-sized blocks", async () => {
    const mixed: Manifest = {
      tensors: [
        { name: "a", dtype: "float32", shape: [13] },
        { name: "b", dtype: "float64", shape: [5] },
        { name: "c", dtype: "float32", shape: [70_001] }, // more than one 256 KiB scratch block, not a multiple of 8
        { name: "d", dtype: "int32", shape: [3] },
        { name: "e", dtype: "float32", shape: [7] },
      ],
    };
    let s = 12345;
    const rand = () => ((s = (s * 16807) % 2147483647) / 2147483647) * 2 - 1;
    const weights = (p: number): WeightSet => mixed.tensors.map((t) => {
      const n = t.shape[0];
      const data = t.dtype === "float64" ? new Float64Array(n) : t.dtype === "int32" ? new Int32Array(n) : new Float32Array(n);
      for (let i = 0; i < n; i++) data[i] = t.dtype === "int32" ? p * 10 + i : i % 11 === 0 ? -0 : rand() * 10 ** (p % 4);
      return { ...t, data };
    });
    const staging = new UpdateStaging({ dir: tmpdir(), memoryBudgetBytes: 1 << 30 });
    const sums = [
      new WeightedSum(mixed, { simd: false }),
      new WeightedSum(mixed),
      new WeightedSum(mixed, { segmentElements: 1000 }), // sums split across 71 WebAssembly memories
      new WeightedSum(mixed, { simd: false, segmentElements: 999 }),
    ];
    const results: Uint8Array[][] = sums.map(() => []);
    for (let round = 0; round < 2; round++) {
      for (const sum of sums) sum.reset();
      for (let p = 1; p <= 3; p++) {
        const staged = await stage(staging, weights(p + round));
        for (const sum of sums) await sum.fold(staged, [0.1, 7, 1e6][p - 1]);
        await staged.release();
      }
      sums.forEach((sum, i) => results[i].push(sum.result()));
    }
    for (let i = 1; i < sums.length; i++) {
      for (let round = 0; round < 2; round++) expect(Buffer.from(results[i][round]).equals(Buffer.from(results[0][round]))).toBe(true);
    }
    // -0 inputs leave +0, as after a zero-filled sum (0 + -0 = +0).
    const c = unpackWeights(mixed, results[1][0])[2].data as Float32Array;
    expect(Object.is(c[0], 0)).toBe(true);
  });

  it.each([true, false])("writes the mean of tensors packed at misaligned offsets (float64 at byte 4, float32 at byte 22; simd %s)", async (simd) => {
    const odd: Manifest = {
      tensors: [
        { name: "a", dtype: "float32", shape: [1] }, { name: "b", dtype: "float64", shape: [2] },
        { name: "h", dtype: "float16", shape: [1] }, { name: "c", dtype: "float32", shape: [9] },
      ],
    };
    const staging = new UpdateStaging({ dir: tmpdir(), memoryBudgetBytes: 1 << 20 });
    const sum = new WeightedSum(odd, { simd });
    for (const [x, weight] of [[1, 1], [4, 2]]) {
      const staged = await stage(staging, [
        { ...odd.tensors[0], data: new Float32Array([x]) }, { ...odd.tensors[1], data: new Float64Array([x + 1, -x]) },
        { ...odd.tensors[2], data: new Uint16Array([0x3c00]) }, { ...odd.tensors[3], data: new Float32Array(9).fill(x) },
      ]);
      await sum.fold(staged, weight);
    }
    const result = unpackWeights(odd, sum.result()).map((t) => [...t.data]);
    expect([result[0], result[1], result[3]]).toEqual([[3], [4, -3], Array(9).fill(3)]);
  });

  it("a round's first fold that fails part way leaves no trace: the next first fold overwrites every element", async () => {
    const staging = new UpdateStaging({ dir: tmpdir(), memoryBudgetBytes: 1 << 30 });
    const good = await stage(staging, party(1));
    const failing = { size: good.size, read: async (offset: number, length: number) => {
      if (offset > 0) throw new Error("disk read failed");
      return good.read(offset, length);
    }, release: async () => undefined };
    const sum = new WeightedSum(manifest);
    const reference = new WeightedSum(manifest);
    await sum.fold(await stage(staging, party(2)), 3);
    sum.reset();
    await expect(sum.fold(failing, 2)).rejects.toThrow(/disk read failed/);
    await sum.fold(good, 5);
    await reference.fold(good, 5);
    expect(Buffer.from(sum.result()).equals(Buffer.from(reference.result()))).toBe(true);
  });

  it("refuses an update of the wrong size and an empty mean", async () => {
    const sum = new WeightedSum(manifest);
    const staging = new UpdateStaging({ dir: tmpdir(), memoryBudgetBytes: 1 << 20 });
    const w = await staging.begin(8);
    await expect(sum.fold(await w.commit(), 1)).rejects.toThrow(/does not match/);
    expect(() => sum.result()).toThrow(/no update was folded/);
  });
});

describe("UpdateStaging budget", () => {
  it("takes a budget that is a function of the update's size, and the default clamps it to [64 MiB, 256 MiB]", async () => {
    dir = await mkdtemp(join(tmpdir(), "cohort-staging-"));
    const staging = new UpdateStaging({ dir, memoryBudgetBytes: (size) => 2 * size });
    const a = await staging.begin(1000);
    const b = await staging.begin(1000);
    expect(staging.reservedBytes).toBe(2000);
    const c = await staging.begin(1000); // over the budget: spilled to a file
    expect(staging.reservedBytes).toBe(2000);
    expect(await readdir(dir)).toHaveLength(1);
    for (const w of [a, b, c]) await w.abort();
    expect(staging.reservedBytes).toBe(0);
    expect(await readdir(dir)).toEqual([]);
    const MiB = 1024 * 1024;
    expect(defaultStagingBudget(MiB)).toBe(64 * MiB);
    expect(defaultStagingBudget(100 * MiB)).toBe(100 * MiB);
    expect(defaultStagingBudget(4096 * MiB)).toBe(256 * MiB);
  });
});
