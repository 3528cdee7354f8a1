import { describe, expect, it } from "vitest";
import { type WeightSet, packWeights } from "@cohort/tensors";
import { packedChunks } from "./transfer.js";

const weights: WeightSet = [
  { name: "a", dtype: "float32", shape: [5], data: Float32Array.from([1, 2, 3, 4, 5]) },
  { name: "empty", dtype: "float32", shape: [0], data: new Float32Array(0) },
  { name: "b", dtype: "int32", shape: [2, 3], data: Int32Array.from([-1, 2, -3, 4, -5, 6]) },
  { name: "c", dtype: "float64", shape: [3], data: Float64Array.from([0.5, -0.25, 1e300]) },
];

describe("packedChunks", () => {
  it.each([1, 3, 4, 7, 16, 20, 64, 1000])("yields the packed bytes in order in chunks of at most %i bytes", (chunkSize) => {
    const packed = packWeights(weights);
    const chunks = [...packedChunks(weights, chunkSize)];
    let offset = 0;
    for (const [i, chunk] of chunks.entries()) {
      expect(chunk.offset).toBe(offset);
      if (i < chunks.length - 1) expect(chunk.data.byteLength).toBe(chunkSize);
      expect(chunk.data.byteLength).toBeGreaterThan(0);
      expect([...chunk.data]).toEqual([...packed.subarray(offset, offset + chunk.data.byteLength)]);
      offset += chunk.data.byteLength;
    }
    expect(offset).toBe(packed.byteLength);
  });

  it("hands out views of a tensor's own bytes where a chunk lies inside it", () => {
    const [first] = packedChunks(weights, 8);
    expect(first.data.buffer).toBe(weights[0].data.buffer);
    expect(() => [...packedChunks(weights, 0)]).toThrow(RangeError);
  });
});
