import { readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { afterEach, describe, expect, it } from "vitest";
import { type Manifest, packWeights, unpackWeights, type WeightSet } from "@cohort/tensors";
import { MAX_FOLD_GROUP, WeightedSum } from "./accumulator.js";
import { createStrategy } from "./strategies/index.js";
import { type StagedBytes, UpdateStaging, defaultStagingBudget } from "./staging.js";
import { tempDir } from "../../../test/helpers/temp-dirs.js";
import { MIXED_FOLD_WEIGHTS, mixedUpdate } from "../../../test/helpers/mixed-updates.js";

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

/** The sum's mean is, element by element, the float64 FedAvg of `updates` (weighted by `examples`) rounded to float32. */
function expectFedAvg(sum: WeightedSum, updates: WeightSet[], examples: number[]): void {
  const result = unpackWeights(manifest, sum.result());
  const total = examples.reduce((a, b) => a + b, 0);
  result.forEach((t, ti) => {
    for (let i = 0; i < t.data.length; i++) {
      let reference = 0;
      for (let p = 0; p < updates.length; p++) reference += (examples[p] / total) * (updates[p][ti].data[i] as number);
      expect(t.data[i]).toBe(Math.fround(reference));
    }
  });
}

describe("WeightedSum", () => {
  it.each([["memory", 1 << 30], ["disk", 0]])("matches a float64 FedAvg reference for 5 parties with unequal examples (%s staging)", async (_kind, budget) => {
    dir = await tempDir("cohort-fusion-");
    const staging = new UpdateStaging({ dir, memoryBudgetBytes: budget as number });
    const examples = [10, 250, 3, 1200, 77];
    const updates = examples.map((_, i) => party(i + 1));
    const fedavg = createStrategy({ name: "fedavg" });
    const sum = new WeightedSum(manifest);
    for (let p = 0; p < updates.length; p++) {
      const staged = await stage(staging, updates[p]);
      await sum.fold(staged, fedavg.weightOf({ numExamples: examples[p] }));
      await staged.release();
    }
    expectFedAvg(sum, updates, examples);
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
    const iteravg = createStrategy({ name: "iteravg" });
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
    dir = await tempDir("cohort-fusion-");
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
    // resultSlices: the same packed bytes, slice by slice (slices smaller than a tensor, and odd-sized).
    for (const sum of sums) {
      for (const sliceBytes of [24, 4096, 1 << 22]) {
        const pieces = Array.from(sum.resultSlices(sliceBytes), (slice) => Buffer.from(slice)); // copied as it comes: the buffer is reused
        expect(Buffer.concat(pieces).equals(Buffer.from(results[0][1]))).toBe(true);
      }
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

describe("WeightedSum.foldMany and foldQueued (several updates per pass over the sums)", () => {
  it.each([["foldMany", "memory"], ["foldMany", "disk"], ["foldQueued", "memory"], ["foldQueued", "disk"]])(
    "%s matches the float64 FedAvg reference for 5 parties with unequal examples (%s staging)", async (mode, kind) => {
      dir = await tempDir("cohort-fusion-");
      const staging = new UpdateStaging({ dir, memoryBudgetBytes: kind === "memory" ? 1 << 30 : 0 });
      const examples = [10, 250, 3, 1200, 77];
      const updates = examples.map((_, i) => party(i + 1));
      const fedavg = createStrategy({ name: "fedavg" });
      const sum = new WeightedSum(manifest);
      const staged = await Promise.all(updates.map((u) => stage(staging, u)));
      const weighted = staged.map((s, p) => ({ staged: s, weight: fedavg.weightOf({ numExamples: examples[p] }) }));
      if (mode === "foldMany") await sum.foldMany(weighted); // passes of 4 + 1
      else await Promise.all(weighted.map((u) => sum.foldQueued(u.staged, u.weight)));
      for (const s of staged) await s.release();
      expect(sum.count).toBe(5);
      expectFedAvg(sum, updates, examples);
      expect(await readdir(dir)).toEqual([]);
    });

  // Mixed dtypes (non-float32 tensors take the plain loops), odd sizes, float32 packed at an odd
  // offset (after int8), -0, a tensor larger than the scratch area, sums split into segments.
  const mixed: Manifest = {
    tensors: [
      { name: "a", dtype: "float32", shape: [13] },
      { name: "b", dtype: "float64", shape: [5] },
      { name: "c", dtype: "float32", shape: [70_001] },
      { name: "d", dtype: "int32", shape: [3] },
      { name: "h", dtype: "float16", shape: [3] },
      { name: "i", dtype: "int8", shape: [1] },
      { name: "e", dtype: "float32", shape: [7] }, // at an odd byte offset
      { name: "f", dtype: "float32", shape: [2_049] },
    ],
  };
  const mixedWeights = (p: number): WeightSet => mixedUpdate(mixed, p);
  const weightsOf = MIXED_FOLD_WEIGHTS;

  it.each([2, 3, 4, 5, 7])("%i updates in passes of up to 4: bit-identical to one at a time, SIMD and JS, across segment borders, two rounds", async (count) => {
    dir = await tempDir("cohort-fusion-");
    const staging = new UpdateStaging({ dir, memoryBudgetBytes: 3 * packWeights(mixedWeights(1)).byteLength }); // the rest on disk
    const variants = [{}, { simd: false }, { segmentElements: 1000 }, { simd: false, segmentElements: 999 }, { segmentElements: 4099 }];
    const one = variants.map((options) => new WeightedSum(mixed, options));
    const many = variants.map((options) => new WeightedSum(mixed, options));
    for (let round = 0; round < 2; round++) {
      for (const sum of [...one, ...many]) sum.reset();
      const staged = await Promise.all(Array.from({ length: count }, (_, p) => stage(staging, mixedWeights(p + 1 + round))));
      const weighted = staged.map((s, p) => ({ staged: s, weight: weightsOf[p] }));
      if (round === 1) {
        // The second round's passes add to sums that hold an update already (the first round's store).
        const first = await stage(staging, mixedWeights(9));
        for (const sum of [...one, ...many]) await sum.fold(first, 0.25);
        await first.release();
      }
      for (const sum of one) for (const u of weighted) await sum.fold(u.staged, u.weight);
      for (const sum of many) await sum.foldMany(weighted);
      for (const s of staged) await s.release();
      const expected = Buffer.from(one[0].result());
      for (const sum of [...one, ...many]) {
        expect(sum.count).toBe(count + round);
        expect(sum.totalWeight).toBe(one[0].totalWeight);
        expect(Buffer.from(sum.result()).equals(expected)).toBe(true);
      }
    }
    // And within a tight float64 bound of a float64 reference (float32 tensors; the mean is rounded to float32 once).
    const sum = many[0];
    const result = unpackWeights(mixed, sum.result());
    const inputs = [mixedWeights(9), ...Array.from({ length: count }, (_, p) => mixedWeights(p + 2))];
    const weights = [0.25, ...weightsOf.slice(0, count)];
    for (const ti of [0, 2, 6, 7]) {
      const data = result[ti].data as Float32Array;
      for (let i = 0; i < data.length; i += 7) {
        let reference = 0;
        for (let p = 0; p < weights.length; p++) reference += (weights[p] / sum.totalWeight) * (inputs[p][ti].data[i] as number);
        expect(Math.abs(data[i] - reference)).toBeLessThanOrEqual(Math.abs(reference) * 2 ** -24 * 1.0001 + 1e-300);
      }
    }
  });

  it("-0 inputs of a round's first pass leave +0, as one at a time", async () => {
    const staging = new UpdateStaging({ dir: tmpdir(), memoryBudgetBytes: 1 << 30 });
    for (const simd of [true, false]) {
      const sum = new WeightedSum(mixed, { simd });
      const staged = await Promise.all([1, 2, 3].map((p) => stage(staging, mixedWeights(p))));
      await sum.foldMany(staged.map((s) => ({ staged: s, weight: 2 })));
      const c = unpackWeights(mixed, sum.result())[2].data as Float32Array;
      expect(Object.is(c[0], 0)).toBe(true);
      expect(Object.is(c[11], 0)).toBe(true);
    }
  });

  /** A staged update that logs its reads as "name@offset"; `hold` makes the first read wait until released. */
  function logged(name: string, inner: StagedBytes, log: string[], hold?: Promise<void>): StagedBytes {
    return {
      size: inner.size,
      read: async (offset, length) => {
        log.push(`${name}@${offset}`);
        if (hold && offset === 0) await hold;
        return inner.read(offset, length);
      },
      release: () => inner.release(),
    };
  }

  it("foldQueued: updates queued together fold in passes of up to 4, updates queued during a pass in the next one; each resolves after its pass", async () => {
    expect(MAX_FOLD_GROUP).toBe(4);
    const staging = new UpdateStaging({ dir: tmpdir(), memoryBudgetBytes: 1 << 30 });
    const log: string[] = [];
    const names = ["a", "b", "c", "d", "e", "f", "g"];
    const staged = await Promise.all(names.map((_, p) => stage(staging, party(p + 1))));
    let release!: () => void;
    const hold = new Promise<void>((resolve) => { release = resolve; });
    const updates = staged.map((s, p) => logged(names[p], s, log, p === 0 ? hold : undefined));
    const sum = new WeightedSum(manifest);
    const reference = new WeightedSum(manifest);
    for (const [p, s] of staged.entries()) await reference.fold(s, p + 1);

    const done: string[] = [];
    const track = (p: number) => sum.foldQueued(updates[p], p + 1).then(() => { done.push(names[p]); });
    const first = track(0); // alone: its pass starts before the others arrive
    await new Promise((resolve) => setImmediate(resolve));
    expect(log).toEqual(["a@0"]);
    expect(sum.queuedFolds).toBe(1);
    const rest = [1, 2, 3, 4, 5, 6].map(track); // arrive during a's pass: passes b c d e, then f g
    expect(sum.queuedFolds).toBe(7);
    release();
    await Promise.all([first, ...rest]);
    expect(done).toEqual(names);
    // Tensors at bytes 0, 144 and 160 (the empty one at 160 is not read): a's pass, then b c d e together.
    expect(log.slice(0, 7)).toEqual(["a@0", "a@144", "a@160", "b@0", "c@0", "d@0", "e@0"]);
    expect(log.slice(7, 11)).toEqual(["b@144", "c@144", "d@144", "e@144"]);
    expect(log.filter((entry) => entry.endsWith("@0"))).toEqual(["a@0", "b@0", "c@0", "d@0", "e@0", "f@0", "g@0"]);
    expect(log.indexOf("f@0")).toBeGreaterThan(log.lastIndexOf("e@160"));
    expect(sum.queuedFolds).toBe(0);
    expect(Buffer.from(sum.result()).equals(Buffer.from(reference.result()))).toBe(true);
    for (const s of staged) await s.release();
  });

  it("foldQueued: a bad weight or size is refused at once without touching the queue; a failing pass rejects its own updates only", async () => {
    const staging = new UpdateStaging({ dir: tmpdir(), memoryBudgetBytes: 1 << 30 });
    const good = await stage(staging, party(1));
    const other = await stage(staging, party(2));
    const failing: StagedBytes = { size: good.size, read: async (offset, length) => {
      if (offset > 0) throw new Error("disk read failed");
      return good.read(offset, length);
    }, release: async () => undefined };
    const sum = new WeightedSum(manifest);
    await expect(sum.foldQueued(good, 0)).rejects.toThrow(RangeError);
    await expect(sum.foldQueued({ ...good, size: 8 }, 1)).rejects.toThrow(/does not match/);
    expect(sum.queuedFolds).toBe(0);

    // Round's first pass (a, failing) fails: both reject, the sum stays fresh; the next pass (other) is folded.
    const results = await Promise.allSettled([sum.foldQueued(good, 1), sum.foldQueued(failing, 2)]);
    expect(results.map((r) => r.status)).toEqual(["rejected", "rejected"]);
    expect(sum.count).toBe(0);
    await sum.foldQueued(other, 3);
    const reference = new WeightedSum(manifest);
    await reference.fold(other, 3);
    expect(Buffer.from(sum.result()).equals(Buffer.from(reference.result()))).toBe(true);
  });

  it("a later pass that fails part way marks the sum damaged: no mean until reset(); one that fails before adding does not", async () => {
    const staging = new UpdateStaging({ dir: tmpdir(), memoryBudgetBytes: 1 << 30 });
    const good = await stage(staging, party(1));
    const failingAfterFirstSlice: StagedBytes = { size: good.size, read: async (offset, length) => {
      if (offset > 0) throw new Error("disk read failed");
      return good.read(offset, length);
    }, release: async () => undefined };
    const failingAtOnce: StagedBytes = { size: good.size, read: async () => { throw new Error("file is gone"); }, release: async () => undefined };
    const sum = new WeightedSum(manifest);
    await sum.fold(good, 1);
    await expect(sum.fold(failingAtOnce, 2)).rejects.toThrow(/file is gone/);
    expect(sum.damaged).toBeUndefined(); // nothing was added
    expect(sum.count).toBe(1);
    await expect(sum.fold(failingAfterFirstSlice, 2)).rejects.toThrow(/disk read failed/);
    expect(sum.damaged?.message).toBe("disk read failed");
    expect(sum.count).toBe(1);
    expect(() => sum.result()).toThrow(/part of an update whose fold failed \(disk read failed\)/);
    expect(() => [...sum.resultSlices()]).toThrow(/fold failed/);
    sum.reset();
    expect(sum.damaged).toBeUndefined();
    await sum.fold(good, 1);
    const reference = new WeightedSum(manifest);
    await reference.fold(good, 1);
    expect(Buffer.from(sum.result()).equals(Buffer.from(reference.result()))).toBe(true);
  });

  it("reset() refuses while queued folds are pending; foldMany refuses a bad update before folding any", async () => {
    const staging = new UpdateStaging({ dir: tmpdir(), memoryBudgetBytes: 1 << 30 });
    const a = await stage(staging, party(1));
    const sum = new WeightedSum(manifest);
    const pending = sum.foldQueued(a, 1);
    expect(() => sum.reset()).toThrow(/pending/);
    await pending;
    sum.reset();
    await expect(sum.foldMany([{ staged: a, weight: 1 }, { staged: a, weight: Number.NaN }])).rejects.toThrow(RangeError);
    expect(sum.count).toBe(0);
    expect(() => sum.result()).toThrow(/no update was folded/);
  });

  it("the same staged file twice in one call is read in separate passes (a file's reads share one buffer)", async () => {
    dir = await tempDir("cohort-fusion-");
    const staging = new UpdateStaging({ dir, memoryBudgetBytes: 0 });
    const a = await stage(staging, party(1));
    const b = await stage(staging, party(2));
    const many = new WeightedSum(manifest);
    const one = new WeightedSum(manifest);
    const list = [{ staged: a, weight: 1 }, { staged: b, weight: 2 }, { staged: a, weight: 3 }, { staged: b, weight: 4 }];
    await many.foldMany(list);
    for (const u of list) await one.fold(u.staged, u.weight);
    expect(Buffer.from(many.result()).equals(Buffer.from(one.result()))).toBe(true);
    await a.release();
    await b.release();
  });
});

describe("UpdateStaging budget", () => {
  it("takes a budget that is a function of the update's size, and the default clamps it to [64 MiB, 256 MiB]", async () => {
    dir = await tempDir("cohort-staging-");
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

describe("UpdateStaging.hold", () => {
  it("counts held bytes against the memory budget until released (idempotent), so begin spills sooner", async () => {
    const dir = await tempDir("cohort-hold-");
    try {
      const staging = new UpdateStaging({ dir, memoryBudgetBytes: 100 });
      const release = staging.hold(60);
      expect(staging.heldBytes).toBe(60);
      const spilled = await staging.begin(50); // 60 held + 50 > 100: a file
      expect((await readdir(dir)).length).toBe(1);
      await spilled.abort();
      release();
      release();
      expect(staging.heldBytes).toBe(0);
      const inMemory = await staging.begin(50);
      expect(staging.reservedBytes).toBe(50);
      expect((await readdir(dir)).length).toBe(0);
      await inMemory.abort();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
