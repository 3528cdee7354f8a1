import { describe, expect, it } from "vitest";
import { type Manifest, numberToFloat16 } from "@cohort/tensors";
import { decodeInto, encodeInto, slicePlan, sliceElementsFor } from "./numeric-slices.js";

describe("numeric slices", () => {
  it("cuts a model into slices of whole elements within one tensor, in order", () => {
    const manifest: Manifest = { tensors: [{ name: "a", dtype: "float32", shape: [5] }, { name: "e", dtype: "float32", shape: [0] }, { name: "b", dtype: "float16", shape: [3] }] };
    expect([...slicePlan(manifest, 2)].map(({ tensor, offset, bytes, elements, element }) => [tensor, offset, bytes, elements, element])).toEqual([
      [0, 0, 8, 2, 0], [0, 8, 8, 2, 2], [0, 16, 4, 1, 4], [2, 20, 4, 2, 5], [2, 24, 2, 1, 7],
    ]);
  });

  it("keeps memory flat in the number of inputs: slice elements shrink as inputs grow", () => {
    expect(sliceElementsFor(1, 4 * 1024 * 1024)).toBe(512 * 1024);
    expect(sliceElementsFor(32, 4 * 1024 * 1024)).toBe(16 * 1024);
    expect(sliceElementsFor(10_000, 1024)).toBe(64);
  });

  it("decodes and encodes every dtype through float64, rounding integers", () => {
    const out = new Float64Array(3);
    decodeInto("float16", new Uint8Array(Uint16Array.of(numberToFloat16(1.5), numberToFloat16(-2), 0).buffer), out);
    expect([...out]).toEqual([1.5, -2, 0]);
    decodeInto("int64", new Uint8Array(BigInt64Array.of(-3n, 7n, 0n).buffer), out);
    expect([...out]).toEqual([-3, 7, 0]);
    const bytes = encodeInto("int32", Float64Array.of(1.4, 2.6, -0.6), new Uint8Array(64));
    expect([...new Int32Array(bytes.slice().buffer)]).toEqual([1, 3, -1]);
    expect(bytes.byteLength).toBe(12);
  });
});
