import { describe, expect, it } from "vitest";
import { parseAggregatorConfig } from "./aggregator-config.js";
import { ConfigError } from "./config-error.js";

function config(privacy: unknown, fusion = "fedavg"): Record<string, unknown> {
  return {
    fusion: { name: fusion },
    hyperparams: { global: { rounds: 5, num_parties: 40, differential_privacy: privacy } },
    parties: Array.from({ length: 40 }, (_, i) => ({ name: `party${i}`, token: `token-of-party${i}` })),
  };
}

function messages(raw: Record<string, unknown>): string {
  try {
    parseAggregatorConfig(raw, "aggregator.yml", "/srv/fl");
  } catch (error) {
    if (error instanceof ConfigError) return error.message;
    throw error;
  }
  throw new Error("expected a ConfigError");
}

describe("hyperparams.global.differential_privacy", () => {
  it("normalizes fixed clipping with the defaults (central, delta 1e-5, every party every round)", () => {
    const { privacy } = parseAggregatorConfig(config({ noise_multiplier: 1.1, clipping_norm: 0.5, target_epsilon: 8 }), "aggregator.yml", "/srv/fl");
    expect(privacy).toEqual({ mode: "central", noiseMultiplier: 1.1, clippingNorm: 0.5, delta: 1e-5, samplingRate: 1, targetEpsilon: 8 });
  });

  it("defaults adaptive clipping to the paper's settings, the count's noise to num_parties / 20", () => {
    const { privacy } = parseAggregatorConfig(config({ noise_multiplier: 1, adaptive_clipping: {} }), "aggregator.yml", "/srv/fl");
    expect(privacy?.adaptiveClipping).toEqual({ targetQuantile: 0.5, learningRate: 0.2, initialNorm: 0.1, clippedCountStddev: 2 });
  });

  it("names the field and says what was expected", () => {
    expect(messages(config({ noise_multiplier: 1 }))).toMatch(/hyperparams\.global\.differential_privacy: expected exactly one of clipping_norm .* and adaptive_clipping/);
    expect(messages(config({ noise_multiplier: 1, clipping_norm: 1, adaptive_clipping: {} }))).toMatch(/expected exactly one of clipping_norm/);
    expect(messages(config({ noise_multiplier: -1, clipping_norm: 1 }))).toMatch(/differential_privacy\.noise_multiplier.*>= 0/);
    expect(messages(config({ noise_multiplier: 1, clipping_norm: 1, delta: 1 }))).toMatch(/differential_privacy\.delta.*< 1/);
    expect(messages(config({ noise_multiplier: 1, clipping_norm: 1, sampling_rate: 0 }))).toMatch(/differential_privacy\.sampling_rate.*> 0/);
    expect(messages(config({ noise_multiplier: 1, clipping_norm: 1, mode: "local" }))).toMatch(/differential_privacy\.mode.*"central", "distributed"/);
    expect(messages(config({ noise_multiplier: 1, clipping_norm: 1, epsilon: 3 }))).toMatch(/differential_privacy\.epsilon/);
  });

  it("refuses combinations that break the guarantee", () => {
    expect(messages(config({ noise_multiplier: 1, clipping_norm: 1 }, "krum"))).toMatch(/fusion\.name: got krum with differential_privacy, expected one of fedavg, iteravg, fedprox, fedadam/);
    expect(messages(config({ noise_multiplier: 1, clipping_norm: 1 }, "coordinate-median"))).toMatch(/fusion\.name: got coordinate-median/);
    expect(messages(config({ noise_multiplier: 1, mode: "distributed", adaptive_clipping: {} }))).toMatch(/adaptive_clipping: got adaptive clipping with mode: distributed/);
    expect(messages(config({ noise_multiplier: 6, adaptive_clipping: {} }))).toMatch(/clipped_count_stddev: got 2 \(the default, num_parties \/ 20\), expected more than noise_multiplier \/ 2 = 3/);
  });
});
