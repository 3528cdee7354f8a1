import { describe, expect, it } from "vitest";
import type { Manifest } from "@cohort/tensors";
import { NonFiniteModel, finiteSlices } from "./finite-slices.js";

const manifest: Manifest = { tensors: [{ name: "count", dtype: "int32", shape: [2] }, { name: "w", dtype: "float32", shape: [3] }] };

async function* slices(...parts: Uint8Array[]) {
  yield* parts;
}

async function collect(source: AsyncIterable<Uint8Array>): Promise<number> {
  let bytes = 0;
  for await (const s of source) bytes += s.byteLength;
  return bytes;
}

describe("finiteSlices", () => {
  it("passes a finite model through slice by slice", async () => {
    const parts = [new Uint8Array(Int32Array.of(7, -1).buffer), new Uint8Array(Float32Array.of(1, 2).buffer), new Uint8Array(Float32Array.of(3).buffer)];
    expect(await collect(finiteSlices(manifest, slices(...parts)))).toBe(20);
  });

  it("stops at a non-finite float, naming the tensor (integer tensors are never checked as floats)", async () => {
    const bad = [new Uint8Array(Int32Array.of(0x7fc00000, 0).buffer), new Uint8Array(Float32Array.of(1, Infinity, 0).buffer)];
    await expect(collect(finiteSlices(manifest, slices(...bad)))).rejects.toThrow(NonFiniteModel);
    await expect(collect(finiteSlices(manifest, slices(...bad)))).rejects.toThrow(/tensor w holds Infinity/);
  });
});
