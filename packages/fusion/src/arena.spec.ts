import { rm } from "node:fs/promises";
import { afterEach, describe, expect, it } from "vitest";
import { type Manifest, packWeights, type WeightSet } from "@cohort/tensors";
import { WeightedSum } from "./accumulator.js";
import { UpdateStaging } from "./staging.js";
import { tempDir } from "../../../test/helpers/temp-dirs.js";
import { MIXED_FOLD_WEIGHTS, mixedUpdate } from "../../../test/helpers/mixed-updates.js";

// Memory-staged updates allocated in the accumulator's WebAssembly memory (WeightedSum.allocateStaging),
// which the fold reads in place instead of copying them into its scratch area.

const simdAvailable = new WeightedSum({ tensors: [{ name: "x", dtype: "float32", shape: [1] }] }, { arenaBytes: 16 }).allocateStaging(16) !== undefined;

// Mixed dtypes, odd sizes, float32 at an odd byte offset (after int8: copied, not read in place), a tensor larger than the scratch area.
const mixed: Manifest = {
  tensors: [
    { name: "a", dtype: "float32", shape: [13] },
    { name: "b", dtype: "float64", shape: [5] },
    { name: "c", dtype: "float32", shape: [70_001] },
    { name: "h", dtype: "float16", shape: [3] },
    { name: "i", dtype: "int8", shape: [1] },
    { name: "e", dtype: "float32", shape: [7] },
    { name: "f", dtype: "float32", shape: [2_049] },
  ],
};
const update = (p: number): WeightSet => mixedUpdate(mixed, p);
const size = packWeights(update(1)).byteLength;
const weightsOf = MIXED_FOLD_WEIGHTS;

let dir: string;
afterEach(async () => { if (dir) await rm(dir, { recursive: true, force: true }); });

/** The WebAssembly memory's buffer of an accumulator with an arena (the arena must have 16 bytes free). */
function bufferOf(sum: WeightedSum): ArrayBufferLike {
  const region = sum.allocateStaging(16)!;
  region.free();
  return region.bytes.buffer;
}

async function stage(staging: UpdateStaging, weights: WeightSet) {
  const bytes = packWeights(weights);
  const writer = await staging.begin(bytes.byteLength);
  for (let i = 0; i < bytes.byteLength; i += 4099) await writer.write(bytes.subarray(i, Math.min(i + 4099, bytes.byteLength)));
  return writer.commit();
}

describe.skipIf(!simdAvailable)("WeightedSum.allocateStaging (arena)", () => {
  const small: Manifest = { tensors: [{ name: "w", dtype: "float32", shape: [3040] }] };

  it("allocates 16-byte aligned regions of its memory first fit, coalesces freed neighbours, refuses what does not fit", () => {
    const sum = new WeightedSum(small, { arenaBytes: 4096 });
    expect(sum.stagingFreeBytes).toBe(4096);
    const [a, b, c, d] = [1000, 1000, 1000, 1000].map((n) => sum.allocateStaging(n)!);
    for (const r of [a, b, c, d]) {
      expect(r.bytes.byteLength).toBe(1000);
      expect(r.bytes.byteOffset % 16).toBe(0);
      expect(r.bytes.buffer).toBe(a.bytes.buffer);
    }
    expect(new Set([a, b, c, d].map((r) => r.bytes.byteOffset)).size).toBe(4);
    expect(sum.stagingFreeBytes).toBe(4096 - 4 * 1008);
    expect(sum.allocateStaging(100)).toBeUndefined(); // 64 bytes left
    for (const bad of [0, -16, Number.NaN, 1.5, Number.POSITIVE_INFINITY]) expect(sum.allocateStaging(bad)).toBeUndefined();
    c.free();
    b.free();
    b.free(); // idempotent
    expect(sum.stagingFreeBytes).toBe(4096 - 2 * 1008);
    const bc = sum.allocateStaging(2016)!; // b and c coalesced
    expect(bc.bytes.byteOffset).toBe(b.bytes.byteOffset);
    for (const r of [a, bc, d]) r.free();
    expect(sum.stagingFreeBytes).toBe(4096);
    expect(sum.allocateStaging(4096)!.bytes.byteOffset).toBe(a.bytes.byteOffset); // one range again
  });

  it("has no arena without SIMD kernels, with several segments, or with arenaBytes 0; survives reset()", () => {
    expect(new WeightedSum(small, { simd: false, arenaBytes: 4096 }).allocateStaging(16)).toBeUndefined();
    expect(new WeightedSum(small, { segmentElements: 1000, arenaBytes: 4096 }).allocateStaging(16)).toBeUndefined();
    expect(new WeightedSum(small).allocateStaging(16)).toBeUndefined();
    const sum = new WeightedSum(small, { arenaBytes: 4096 });
    const r = sum.allocateStaging(4000)!;
    r.bytes.fill(7);
    sum.reset();
    expect(sum.allocateStaging(200)).toBeUndefined();
    expect(r.bytes.every((x) => x === 7)).toBe(true);
  });

  it("UpdateStaging takes regions from its allocator (plain memory when it refuses), frees them on release or abort, zeroes what was not written", async () => {
    dir = await tempDir("cohort-arena-");
    const sum = new WeightedSum(small, { arenaBytes: 4096 });
    const staging = new UpdateStaging({ dir, memoryBudgetBytes: 1 << 20, allocate: (n) => sum.allocateStaging(n) });
    const arenaBuffer = sum.allocateStaging(16)!;
    arenaBuffer.free();
    const w1 = await staging.begin(3000);
    await w1.write(new Uint8Array(3000).fill(9));
    const s1 = await w1.commit();
    expect((await s1.read(0, 3000)).buffer).toBe(arenaBuffer.bytes.buffer);
    const w2 = await staging.begin(3000); // does not fit the arena: a plain array, the budget as always
    expect(staging.reservedBytes).toBe(6000);
    await w2.write(new Uint8Array(3000).fill(1));
    const s2 = await w2.commit();
    expect((await s2.read(0, 16)).buffer).not.toBe(arenaBuffer.bytes.buffer);
    await s1.release();
    expect(sum.stagingFreeBytes).toBe(4096);
    await expect(s1.read(0, 16)).rejects.toThrow(/released/);
    // The freed region is reused; what the next update did not write reads as zeros, not the old bytes.
    const w3 = await staging.begin(3000);
    await w3.write(new Uint8Array(10).fill(5));
    const s3 = await w3.commit();
    const bytes = await s3.read(0, 3000);
    expect(bytes.buffer).toBe(arenaBuffer.bytes.buffer);
    expect(bytes.subarray(0, 10).every((x) => x === 5) && bytes.subarray(10).every((x) => x === 0)).toBe(true);
    await s3.release();
    const w4 = await staging.begin(3000);
    await w4.abort();
    expect(sum.stagingFreeBytes).toBe(4096);
    await s2.release();
    expect(staging.reservedBytes).toBe(0);
  });

  it.each([1, 2, 3, 4, 5, 7])("%i updates staged in the arena, in plain memory or mixed: folds bit-identical to plain staging, two rounds", async (count) => {
    dir = await tempDir("cohort-arena-");
    const plain = new UpdateStaging({ dir, memoryBudgetBytes: 1 << 30 });
    const reference = new WeightedSum(mixed);
    // All in the arena; about half in it (the rest in plain memory); the same with the passes folded one at a time.
    const arenas = [count, Math.ceil(count / 2)].map((fit) => new WeightedSum(mixed, { arenaBytes: fit * (Math.ceil(size / 16) * 16) }));
    const buffers = arenas.map(bufferOf);
    for (let round = 0; round < 2; round++) {
      for (const sum of [reference, ...arenas]) sum.reset();
      const inputs = Array.from({ length: count }, (_, p) => update(p + 1 + round));
      const staged = await Promise.all(inputs.map((u) => stage(plain, u)));
      await reference.foldMany(staged.map((s, p) => ({ staged: s, weight: weightsOf[p] })));
      const expected = Buffer.from(reference.result());
      for (const sum of arenas) {
        const staging = new UpdateStaging({ dir, memoryBudgetBytes: 1 << 30, allocate: (n) => sum.allocateStaging(n) });
        const local = [];
        for (const u of inputs) local.push(await stage(staging, u));
        const inArena = await Promise.all(local.map(async (s) => (await s.read(0, 4)).buffer === buffers[arenas.indexOf(sum)]));
        expect(inArena.filter(Boolean).length).toBe(sum === arenas[0] ? count : Math.ceil(count / 2));
        await sum.foldMany(local.map((s, p) => ({ staged: s, weight: weightsOf[p] })));
        expect(Buffer.from(sum.result()).equals(expected)).toBe(true);
        sum.reset();
        for (const [p, s] of local.entries()) await sum.fold(s, weightsOf[p]);
        expect(Buffer.from(sum.result()).equals(expected)).toBe(true);
        for (const s of local) await s.release();
      }
      for (const s of staged) await s.release();
    }
  });
});
