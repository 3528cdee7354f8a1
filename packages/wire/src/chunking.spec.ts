import { crc32 } from "node:zlib";
import { describe, expect, it } from "vitest";
import { DTYPES, allocate, elementCount, manifestOf, packWeights, type WeightSet } from "@cohort/tensors";
import { ChunkSequence, chunksOf } from "./chunking.js";
import { WeightAssembler } from "./assembler.js";

function randomWeights(seed: number): WeightSet {
  // One tensor of every dtype, an empty one, a scalar, and one spanning many chunks.
  let state = seed;
  const next = () => ((state = (state * 1103515245 + 12345) >>> 0) & 0xff);
  const shapes: number[][] = [[3, 5], [0, 4], [], [257], [7, 3, 2]];
  const weights: WeightSet = [];
  DTYPES.forEach((dtype, i) => {
    const shape = shapes[i % shapes.length];
    const data = allocate(dtype, elementCount(shape));
    const bytes = new Uint8Array(data.buffer);
    for (let b = 0; b < bytes.length; b++) bytes[b] = next();
    weights.push({ name: `t${i}_${dtype}`, dtype, shape, data });
  });
  const big = allocate("float32", 10_000);
  for (let j = 0; j < big.length; j++) (big as Float32Array)[j] = j * 0.5 - 7;
  weights.push({ name: "big", dtype: "float32", shape: [100, 100], data: big });
  return weights;
}

/** The whole stream's CRC-32 in one zlib call: the reference the assembler's piecewise one must match. */
const crc = (bytes: Uint8Array): number => crc32(bytes);

describe("chunk codec", () => {
  it.each([1, 3, 64, 1000, 1 << 20])("round-trips every dtype with chunk size %i", (chunkSize) => {
    const weights = randomWeights(chunkSize);
    const packed = packWeights(weights);
    const assembler = new WeightAssembler(manifestOf(weights), chunkSize);
    let count = 0;
    for (const chunk of chunksOf(packed, chunkSize)) {
      expect(chunk.data.byteLength).toBeLessThanOrEqual(chunkSize);
      assembler.add(chunk);
      count++;
    }
    expect(count).toBe(Math.ceil(packed.byteLength / chunkSize));
    const back = assembler.finish(crc(packed));
    expect(back.map((t) => t.name)).toEqual(weights.map((t) => t.name));
    back.forEach((t, i) => {
      expect(t.shape).toEqual(weights[i].shape);
      expect(Array.from(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength)))
        .toEqual(Array.from(new Uint8Array(weights[i].data.buffer, weights[i].data.byteOffset, weights[i].data.byteLength)));
    });
  });

  it("resumes from an offset with the remaining bytes only", () => {
    const packed = packWeights(randomWeights(9));
    const chunks = [...chunksOf(packed, 100, 450)];
    expect(chunks[0].offset).toBe(450);
    expect(chunks.reduce((n, c) => n + c.data.byteLength, 0)).toBe(packed.byteLength - 450);
  });

  it("refuses a checksum that does not match", () => {
    const weights = randomWeights(1);
    const packed = packWeights(weights);
    const assembler = new WeightAssembler(manifestOf(weights), 4096);
    for (const chunk of chunksOf(packed, 4096)) assembler.add(chunk);
    expect(() => assembler.finish((crc(packed) ^ 1) >>> 0)).toThrow(/CRC-32 mismatch/);
    expect(assembler.complete).toBe(true);
  });

  it("refuses an incomplete stream", () => {
    const weights = randomWeights(2);
    const packed = packWeights(weights);
    const assembler = new WeightAssembler(manifestOf(weights), 4096);
    assembler.add({ offset: 0, data: packed.subarray(0, 10) });
    expect(assembler.complete).toBe(false);
    expect(() => assembler.finish(crc(packed))).toThrow(/received 10 of/);
  });
});

describe("ChunkSequence", () => {
  it("rejects gaps, overlaps, oversize and overrun chunks", () => {
    const seq = new ChunkSequence(100, 40);
    seq.accept({ offset: 0, data: new Uint8Array(40) });
    expect(() => seq.accept({ offset: 30, data: new Uint8Array(10) })).toThrow(/expected 40/);
    expect(() => seq.accept({ offset: 50, data: new Uint8Array(10) })).toThrow(/expected 40/);
    expect(() => seq.accept({ offset: 40, data: new Uint8Array(41) })).toThrow(/exceeds the 40-byte limit/);
    seq.accept({ offset: 40, data: new Uint8Array(40) });
    expect(() => seq.accept({ offset: 80, data: new Uint8Array(21) })).toThrow(/runs past/);
    expect(() => seq.accept({ offset: 80, data: new Uint8Array(0) })).toThrow(/empty chunk/);
    seq.accept({ offset: 80, data: new Uint8Array(20) });
    expect(seq.complete).toBe(true);
  });
});
