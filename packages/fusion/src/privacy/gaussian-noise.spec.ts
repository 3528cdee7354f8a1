import { describe, expect, it } from "vitest";
import { GaussianNoise } from "./gaussian-noise.js";

describe("GaussianNoise (node:crypto Box-Muller)", () => {
  it("draws N(0, sigma^2): mean, std and tails within the sampling error of 400k draws", () => {
    const sigma = 2.5;
    const n = 400_000;
    const x = new GaussianNoise().fill(new Float64Array(n), sigma);
    let sum = 0;
    let squares = 0;
    let beyond2 = 0;
    for (const v of x) {
      sum += v;
      squares += v * v;
      if (Math.abs(v) > 2 * sigma) beyond2++;
    }
    const mean = sum / n;
    const std = Math.sqrt(squares / n - mean * mean);
    // Standard errors: mean sigma/sqrt(n) = 0.004, std sigma/sqrt(2n) = 0.0028; 5 of them.
    expect(Math.abs(mean)).toBeLessThan(0.02);
    expect(Math.abs(std / sigma - 1)).toBeLessThan(0.006);
    // P(|Z| > 2) = 0.0455; its standard error at n draws is 0.00033.
    expect(Math.abs(beyond2 / n - 0.0455)).toBeLessThan(0.0017);
  });

  it("never repeats a stream and adds noise in place", () => {
    const a = new GaussianNoise().fill(new Float64Array(1001), 1);
    const b = new GaussianNoise().fill(new Float64Array(1001), 1);
    expect(a.some((v, j) => v !== b[j])).toBe(true);
    expect(Number.isFinite(a[1000])).toBe(true);
    const out = new Float64Array(10).fill(5);
    new GaussianNoise().add(out, 0);
    expect([...out]).toEqual(new Array(10).fill(5));
    new GaussianNoise().add(out, 1);
    expect(out.some((v) => v !== 5)).toBe(true);
    expect(() => new GaussianNoise().fill(new Float64Array(2), -1)).toThrow(/stddev/);
  });
});
