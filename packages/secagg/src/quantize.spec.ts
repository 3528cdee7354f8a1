import { describe, expect, it } from "vitest";
import { dequantizeSumInto, maxSummands, quantizationStep, quantizeInto } from "./quantize.js";

describe("quantization into Z_2^32", () => {
  const q = { clippingRange: 2, bits: 16 };

  it("decodes a sum of quantized values to the sum of the values within m half-steps", () => {
    const parties = [[0.5, -1.25, 1.999, 0], [-0.75, 0.1, 1.5, -2], [0.01, 0.02, -0.03, 1]];
    const sum = new Uint32Array(4);
    for (const values of parties) {
      const one = new Uint32Array(4);
      quantizeInto(values, q, one);
      for (let i = 0; i < 4; i++) sum[i] = sum[i] + one[i];
    }
    const decoded = new Float64Array(4);
    dequantizeSumInto(sum, parties.length, q, decoded);
    for (let i = 0; i < 4; i++) {
      const exact = parties.reduce((s, p) => s + p[i], 0);
      expect(Math.abs(decoded[i] - exact)).toBeLessThanOrEqual((parties.length * quantizationStep(q)) / 2 + 1e-12);
    }
  });

  it("clips to the range and maps NaN to zero", () => {
    const out = new Uint32Array(4);
    quantizeInto([100, -100, Number.NaN, 0], q, out);
    const decoded = new Float64Array(1);
    for (const [i, expected] of [[0, 2], [1, -2], [2, 0], [3, 0]]) {
      dequantizeSumInto(out.subarray(i, i + 1), 1, q, decoded);
      expect(decoded[0]).toBeCloseTo(expected, 4);
    }
  });

  it("bounds how many values a 32-bit sum holds", () => {
    expect(maxSummands(16)).toBe(65537);
    expect(maxSummands(22)).toBe(1024);
  });
});
