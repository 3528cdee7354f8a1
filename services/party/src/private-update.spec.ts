import { describe, expect, it } from "vitest";
import type { WeightSet } from "@cohort/tensors";
import { privatizeUpdate } from "./private-update.js";

function weights(w: number[], counter: number): WeightSet {
  return [
    { name: "w", dtype: "float32", shape: [w.length], data: Float32Array.from(w) },
    { name: "n", dtype: "int32", shape: [1], data: Int32Array.from([counter]) },
  ];
}

describe("privatizeUpdate (distributed DP, party side)", () => {
  it("scales an update over C down to norm C and leaves one under C as it is", () => {
    const global = weights([1, 1, 1, 1], 5);
    const big = privatizeUpdate(weights([4, 5, 1, 1], 9), global, { clipNorm: 1, noiseStddev: 0 });
    expect(big.norm).toBeCloseTo(5, 12);
    expect(big.clipped).toBe(true);
    expect([...big.weights[0].data].map((v) => Number(Number(v).toFixed(5)))).toEqual([1.6, 1.8, 1, 1]);
    // The counter is the global model's: it would leak what the noise does not cover.
    expect([...big.weights[1].data]).toEqual([5]);
    const small = privatizeUpdate(weights([1.5, 1, 1, 1], 9), global, { clipNorm: 1, noiseStddev: 0 });
    expect(small.clipped).toBe(false);
    expect([...small.weights[0].data]).toEqual([1.5, 1, 1, 1]);
  });

  it("adds this party's noise share: std within 2% over 200k coordinates", () => {
    const n = 200_000;
    const global: WeightSet = [{ name: "w", dtype: "float32", shape: [n], data: new Float32Array(n) }];
    const trained: WeightSet = [{ name: "w", dtype: "float32", shape: [n], data: new Float32Array(n).fill(0.001) }];
    const { weights: out, norm } = privatizeUpdate(trained, global, { clipNorm: 0.1, noiseStddev: 0.05 });
    expect(norm).toBeCloseTo(0.001 * Math.sqrt(n), 4);
    const signal = 0.1 / Math.sqrt(n);
    let squares = 0;
    for (const v of out[0].data as Float32Array) squares += (v - signal) ** 2;
    expect(Math.abs(Math.sqrt(squares / n) / 0.05 - 1)).toBeLessThan(0.02);
  });

  it("names the tensor that does not match the global model", () => {
    const global = weights([1, 1], 0);
    expect(() => privatizeUpdate([{ ...global[0], name: "x" }, global[1]], global, { clipNorm: 1, noiseStddev: 0 })).toThrow(/tensor 0 \(x\)/);
  });
});
