import { describe, expect, it } from "vitest";
import { AdaptiveClipNorm, updateNoiseMultiplier } from "./adaptive-clip.js";
import { GaussianNoise } from "./gaussian-noise.js";

describe("adaptive clipping (Andrew et al. 2021)", () => {
  it("moves the clip norm to the target quantile of synthetic update norms", () => {
    // 100 parties a round whose update norms are log-normal around 3 (median 3, 90th percentile ~5.7).
    const noise = new GaussianNoise();
    const draws = new Float64Array(100);
    for (const [quantile, expected] of [[0.5, 3], [0.9, 3 * Math.exp(0.5 * 1.2816)]] as const) {
      const clip = new AdaptiveClipNorm({ targetQuantile: quantile, learningRate: 0.2, initialNorm: 0.1, clippedCountStddev: 5 }, noise);
      const late: number[] = [];
      for (let round = 0; round < 300; round++) {
        noise.fill(draws, 0.5);
        const norms = [...draws].map((z) => 3 * Math.exp(z));
        clip.update(norms.filter((n) => n <= clip.current).length, norms.length);
        if (round >= 200) late.push(clip.current);
      }
      const mean = late.reduce((a, b) => a + b, 0) / late.length;
      expect(Math.abs(mean / expected - 1), `quantile ${quantile}: ${mean} vs ${expected}`).toBeLessThan(0.12);
    }
  });

  it("splits the noise multiplier between the update and the count (their Theorem 1)", () => {
    const z = 1;
    const zDelta = updateNoiseMultiplier(z, 5);
    expect(zDelta).toBeGreaterThan(z);
    expect((zDelta ** -2 + (2 * 5) ** -2) ** -0.5).toBeCloseTo(z, 12);
    expect(() => updateNoiseMultiplier(1, 0.4)).toThrow(/clipped_count_stddev 0.4 .* expected clipped_count_stddev > 0.5000/);
  });
});
