import { describe, expect, it } from "vitest";
import { manifestOf, packWeights, type WeightSet } from "@cohort/tensors";
import { chunksOf } from "./chunking.js";
import { FiniteCheck } from "./finite-check.js";

function weightsWith(value: number, at: number): WeightSet {
  const a = new Float32Array(50).fill(1);
  const b = new Float64Array(30).fill(2);
  const c = new Int32Array(5).fill(-1);
  b[at] = value;
  return [
    { name: "a", dtype: "float32", shape: [50], data: a },
    { name: "b", dtype: "float64", shape: [30], data: b },
    { name: "c", dtype: "int32", shape: [5], data: c },
  ];
}

describe("FiniteCheck", () => {
  it.each([1, 3, 7, 13, 1024])("finds a NaN split across chunks of %i bytes", (chunkSize) => {
    for (const bad of [NaN, Infinity, -Infinity]) {
      const weights = weightsWith(bad, 17);
      const check = new FiniteCheck(manifestOf(weights));
      for (const chunk of chunksOf(packWeights(weights), chunkSize)) check.add(chunk.data);
      expect(check.firstNonFinite).toBe("b");
    }
  });

  it("passes finite values and ignores integer tensors", () => {
    const weights = weightsWith(3.5, 0);
    (weights[2].data as Int32Array)[0] = 0x7fc00000; // NaN bit pattern, but an int32
    const check = new FiniteCheck(manifestOf(weights));
    for (const chunk of chunksOf(packWeights(weights), 5)) check.add(chunk.data);
    expect(check.firstNonFinite).toBeUndefined();
  });

  it("detects float16 infinities", () => {
    const data = new Uint16Array([0x3c00, 0x7c00]);
    const check = new FiniteCheck({ tensors: [{ name: "h", dtype: "float16", shape: [2] }] });
    check.add(new Uint8Array(data.buffer));
    expect(check.firstNonFinite).toBe("h");
  });
});
