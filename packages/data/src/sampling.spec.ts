import { describe, expect, it } from "vitest";
import { mulberry32 } from "./prng.js";
import { dirichlet, gamma, shuffleInPlace } from "./sampling.js";

const take = (seed: number, n: number) => { const r = mulberry32(seed); return Array.from({ length: n }, r); };

describe("mulberry32", () => {
  it("repeats a stream for a seed and differs between seeds", () => {
    expect(take(7, 50)).toEqual(take(7, 50));
    expect(take(7, 50)).not.toEqual(take(8, 50));
  });
  it("is roughly uniform on [0, 1)", () => {
    const values = take(1, 20000);
    expect(Math.min(...values)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...values)).toBeLessThan(1);
    const buckets = new Array(10).fill(0);
    for (const v of values) buckets[Math.floor(v * 10)]++;
    for (const b of buckets) expect(Math.abs(b - 2000)).toBeLessThan(200);
  });
});

describe("sampling", () => {
  it("shuffles into a permutation of the input", () => {
    const items = Array.from({ length: 100 }, (_, i) => i);
    const shuffled = shuffleInPlace([...items], mulberry32(3));
    expect(shuffled).not.toEqual(items);
    expect([...shuffled].sort((a, b) => a - b)).toEqual(items);
  });
  it.each([0.3, 1, 4.5])("gamma(%s) has mean and variance equal to its shape", (shape) => {
    const random = mulberry32(11);
    const draws = Array.from({ length: 20000 }, () => gamma(random, shape));
    const mean = draws.reduce((a, b) => a + b, 0) / draws.length;
    const variance = draws.reduce((a, b) => a + (b - mean) ** 2, 0) / draws.length;
    expect(draws.every((d) => d >= 0)).toBe(true);
    expect(Math.abs(mean - shape) / shape).toBeLessThan(0.05);
    expect(Math.abs(variance - shape) / shape).toBeLessThan(0.1);
  });
  it("draws Dirichlet proportions that sum to one, more uneven for small alpha", () => {
    const random = mulberry32(5);
    const spread = (alpha: number) => {
      let total = 0;
      for (let i = 0; i < 500; i++) {
        const p = dirichlet(random, alpha, 4);
        expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 9);
        total += Math.max(...p);
      }
      return total / 500;
    };
    expect(spread(0.1)).toBeGreaterThan(spread(100) + 0.4);
  });
});
