import { describe, expect, it } from "vitest";
import { type Manifest, type WeightSet, decodeFloat32Tensor, encodeFloat32Tensor, packWeights, tensorBytes } from "@cohort/tensors";
import { UpdateDecoder } from "./update-decoder.js";

const manifest: Manifest = {
  tensors: [
    { name: "conv/kernel", dtype: "float32", shape: [3, 5] },
    { name: "steps", dtype: "int32", shape: [4] },
    { name: "dense/kernel", dtype: "float32", shape: [1001] },
    { name: "scalar", dtype: "float32", shape: [] },
    { name: "flag", dtype: "uint8", shape: [3] },
  ],
};

function weights(seed: number): WeightSet {
  return manifest.tensors.map((spec) => {
    const n = spec.shape.reduce((a, b) => a * b, 1);
    const data = spec.dtype === "float32" ? Float32Array.from({ length: n }, (_, i) => Math.sin(i * seed + seed) * 0.3)
      : spec.dtype === "int32" ? Int32Array.from({ length: n }, (_, i) => i * seed) : Uint8Array.from({ length: n }, (_, i) => (i + seed) % 2);
    return { ...spec, data };
  });
}

const base = weights(1);
const update = weights(2).map((t, i) => (t.dtype === "float32" ? { ...t, data: Float32Array.from(t.data as Float32Array, (v, k) => (base[i].data as Float32Array)[k] + v * 0.05) } : t));

function encode(encoding: "float16" | "int8"): Uint8Array {
  return packWeights(update.map((t, i) => (t.dtype === "float32"
    ? { ...t, dtype: "uint8" as const, data: encodeFloat32Tensor(t.data as Float32Array, base[i].data as Float32Array, encoding) }
    : t)));
}

function expected(encoding: "float16" | "int8"): Uint8Array {
  let offset = 0;
  const encoded = encode(encoding);
  return packWeights(update.map((t, i) => {
    const length = t.dtype !== "float32" ? tensorBytes(t).byteLength : encoding === "float16" ? t.data.length * 2 : 4 + t.data.length;
    const bytes = encoded.slice(offset, offset + length);
    offset += length;
    return t.dtype === "float32" ? { ...t, data: decodeFloat32Tensor(bytes, base[i].data as Float32Array, encoding) } : t;
  }));
}

describe("UpdateDecoder", () => {
  for (const encoding of ["float16", "int8"] as const) {
    it.each([1, 2, 3, 7, 64, 100_000])(`streams ${encoding} differences back to packed float32, in chunks of %i bytes`, (chunkSize) => {
      const encoded = encode(encoding);
      const decoder = new UpdateDecoder(manifest, encoding, packWeights(base));
      const pieces: Uint8Array[] = [];
      for (let offset = 0; offset < encoded.byteLength; offset += chunkSize) pieces.push(decoder.push(encoded.subarray(offset, offset + chunkSize)));
      expect(decoder.complete).toBe(true);
      const decoded = Buffer.concat(pieces);
      expect(new Uint8Array(decoded)).toEqual(expected(encoding));
      // Close to the update itself: the loss is the encoding's only.
      const values = new Float32Array(decoded.buffer, decoded.byteOffset + 15 * 4 + 16, 1001);
      const worst = Math.max(...Array.from(values, (v, k) => Math.abs(v - (update[2].data as Float32Array)[k])));
      expect(worst).toBeLessThan(encoding === "float16" ? 1e-4 : 2e-4);
    });
  }

  it.each(["float16", "int8"] as const)("%s: reads only the base slice each chunk needs when given a reader", (encoding) => {
    const encoded = encode(encoding);
    const packedBase = packWeights(base);
    let largest = 0;
    const decoder = new UpdateDecoder(manifest, encoding, (offset, length) => {
      largest = Math.max(largest, length);
      return packedBase.slice(offset, offset + length); // a fresh copy, as a file read gives
    }, packedBase.byteLength);
    const pieces: Uint8Array[] = [];
    for (let offset = 0; offset < encoded.byteLength; offset += 64) pieces.push(decoder.push(encoded.subarray(offset, offset + 64)));
    expect(new Uint8Array(Buffer.concat(pieces))).toEqual(expected(encoding));
    // A 64-byte chunk covers at most 64 int8 or 33 float16 elements: never the whole 1001-element tensor.
    expect(largest).toBeLessThanOrEqual(64 * 4);
  });

  it("refuses bytes past the manifest's end and a base model of the wrong size", () => {
    const decoder = new UpdateDecoder(manifest, "int8", packWeights(base));
    decoder.push(encode("int8"));
    expect(() => decoder.push(new Uint8Array(1))).toThrow(/past the end/);
    expect(() => new UpdateDecoder(manifest, "int8", new Uint8Array(10))).toThrow(/base model is 10 bytes/);
  });
});
