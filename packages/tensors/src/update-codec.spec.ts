import { describe, expect, it } from "vitest";
import { float16ArrayToFloat32, float16ToNumber, numberToFloat16 } from "./float16.js";
import { packWeights } from "./packing.js";
import { decodeFloat32Tensor, encodeFloat32Tensor, encodeWeights, encodedByteLength, encodedTensorByteLength } from "./update-codec.js";

describe("float16", () => {
  it("encodes known values, ties to even, overflow to infinity and underflow to zero", () => {
    expect(numberToFloat16(1)).toBe(0x3c00);
    expect(numberToFloat16(-2)).toBe(0xc000);
    expect(numberToFloat16(0.1)).toBe(0x2e66);
    expect(numberToFloat16(65504)).toBe(0x7bff);
    expect(numberToFloat16(65520)).toBe(0x7c00); // halfway to the next power: rounds up to infinity
    expect(numberToFloat16(-1e9)).toBe(0xfc00);
    expect(numberToFloat16(2 ** -24)).toBe(0x0001); // smallest subnormal
    expect(numberToFloat16(2 ** -26)).toBe(0x0000);
    expect(numberToFloat16(1 + 2 ** -11)).toBe(0x3c00); // tie: to the even mantissa
    expect(numberToFloat16(1 + 3 * 2 ** -11)).toBe(0x3c02);
    expect(numberToFloat16(Number.NaN) & 0x7c00).toBe(0x7c00);
    expect(float16ToNumber(numberToFloat16(Number.NaN))).toBeNaN();
  });

  it("round-trips every one of the 65,536 half values (NaNs stay NaN)", () => {
    const all = float16ArrayToFloat32(Uint16Array.from({ length: 65536 }, (_, i) => i));
    let mismatches = 0;
    for (let bits = 0; bits < 65536; bits++) {
      const value = all[bits];
      if (Number.isNaN(value)) {
        if (!Number.isNaN(float16ToNumber(numberToFloat16(value)))) mismatches++;
      } else if (numberToFloat16(value) !== bits) mismatches++;
    }
    expect(mismatches).toBe(0);
  });
});

describe("update codec", () => {
  const n = 10_000;
  const base = Float32Array.from({ length: n }, (_, i) => Math.sin(i) * 0.5);
  const values = Float32Array.from(base, (b, i) => b + Math.cos(i * 1.7) * 0.01);
  const deltaMax = 0.01;

  it("sizes tensors from the manifest: float32 ones shrink, other dtypes travel as they are", () => {
    const manifest = { tensors: [{ name: "w", dtype: "float32" as const, shape: [100, 10] }, { name: "steps", dtype: "int64" as const, shape: [] }] };
    expect(encodedByteLength(manifest, "float32")).toBe(4000 + 8);
    expect(encodedByteLength(manifest, "float16")).toBe(2000 + 8);
    expect(encodedByteLength(manifest, "int8")).toBe(4 + 1000 + 8);
    expect(encodedTensorByteLength(manifest.tensors[1], "int8")).toBe(8);
  });

  it("float16 differences decode within half precision of the difference", () => {
    const bytes = encodeFloat32Tensor(values, base, "float16");
    expect(bytes.byteLength).toBe(n * 2);
    const decoded = decodeFloat32Tensor(bytes, base, "float16");
    let worst = 0;
    for (let i = 0; i < n; i++) worst = Math.max(worst, Math.abs(decoded[i] - values[i]));
    // Half precision keeps 11 significant bits of |delta| <= 0.01; float32 adds its own rounding of |value| <= 0.51.
    expect(worst).toBeLessThanOrEqual(deltaMax * 2 ** -11 + 0.51 * 2 ** -23);
    expect(worst).toBeGreaterThan(0);
  });

  it("int8 differences decode within half a quantisation step, and zero differences stay exact", () => {
    const bytes = encodeFloat32Tensor(values, base, "int8");
    expect(bytes.byteLength).toBe(4 + n);
    const decoded = decodeFloat32Tensor(bytes, base, "int8");
    const step = deltaMax / 127;
    let worst = 0;
    for (let i = 0; i < n; i++) worst = Math.max(worst, Math.abs(decoded[i] - values[i]));
    expect(worst).toBeLessThanOrEqual(step / 2 + 1e-7);
    expect(Array.from(decodeFloat32Tensor(encodeFloat32Tensor(base, base, "int8"), base, "int8"))).toEqual(Array.from(base));
  });

  it("encodes a weight set to the byte length its manifest predicts, leaving other dtypes alone", () => {
    const steps = { name: "steps", dtype: "int32" as const, shape: [2], data: Int32Array.of(5, 6) };
    const weights = [{ name: "w", dtype: "float32" as const, shape: [n], data: values }, steps];
    const baseSet = [{ name: "w", dtype: "float32" as const, shape: [n], data: base }, steps];
    const manifest = { tensors: weights.map(({ name, dtype, shape }) => ({ name, dtype, shape })) };
    for (const encoding of ["float32", "float16", "int8"] as const) {
      const encoded = encodeWeights(weights, baseSet, encoding);
      expect(packWeights(encoded).byteLength).toBe(encodedByteLength(manifest, encoding));
      expect(encoded[1]).toBe(steps);
    }
  });

  it("decodes from an odd byte offset (a chunk boundary can fall anywhere)", () => {
    const bytes = encodeFloat32Tensor(values, base, "float16");
    const shifted = new Uint8Array(bytes.byteLength + 1);
    shifted.set(bytes, 1);
    expect(decodeFloat32Tensor(shifted.subarray(1), base, "float16")).toEqual(decodeFloat32Tensor(bytes, base, "float16"));
  });

  it("a non-finite int8 scale decodes to non-finite values, for the finite check to refuse", () => {
    const bytes = encodeFloat32Tensor(values, base, "int8");
    new DataView(bytes.buffer, bytes.byteOffset).setFloat32(0, Number.POSITIVE_INFINITY, true);
    expect(decodeFloat32Tensor(bytes, base, "int8").some((v) => !Number.isFinite(v))).toBe(true);
  });
});
