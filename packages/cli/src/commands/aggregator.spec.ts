import { describe, expect, it } from "vitest";
import { DEFAULT_LIMITS, resolveLimits } from "@cohort/aggregator";
import { parseAggregatorConfig } from "@cohort/config";
import { aggregatorExitCode, aggregatorSettings } from "./aggregator.js";

describe("aggregatorExitCode", () => {
  it.each<[{ rounds_completed: number; failed_round?: number }, number, number, string]>([
    [{ rounds_completed: 3 }, 3, 0, "all rounds"],
    [{ rounds_completed: 2 }, 3, 0, "termination accuracy or a signal after some rounds"],
    [{ rounds_completed: 0 }, 0, 0, "a run of 0 rounds"],
    [{ rounds_completed: 0 }, 3, 1, "stopped before any round completed"],
    [{ rounds_completed: 2, failed_round: 3 }, 5, 1, "a round failed after others completed (a supervisor restarts and resumes)"],
  ])("%o of %i rounds: exit %i (%s)", (summary, rounds, code) => {
    expect(aggregatorExitCode(summary, rounds)).toBe(code);
  });
});

describe("aggregatorSettings", () => {
  const config = (info: Record<string, unknown>) =>
    parseAggregatorConfig({ connection: { info }, hyperparams: { global: { num_parties: 2 } }, parties: [{ name: "a", token: "t".repeat(16) }, { name: "b", token: "u".repeat(16) }] }, "a.yml", "/x");

  it("hands the YAML's peer limits to the aggregator, which keeps its defaults for the rest", () => {
    const settings = aggregatorSettings(config({ limits: { max_rejections: 0, upload_idle_ms: 90_000 } }));
    expect(settings.limits).toEqual({ maxRejections: 0, uploadIdleMs: 90_000 });
    const limits = resolveLimits(settings.limits);
    expect(limits).toMatchObject({ maxRejections: 0, uploadIdleMs: 90_000, rejectionWindowMs: DEFAULT_LIMITS.rejectionWindowMs });
  });

  it("sets no limits when the YAML has none", () => {
    expect(aggregatorSettings(config({})).limits).toBeUndefined();
  });

  it("hands hyperparams.global.differential_privacy to the aggregator", () => {
    const raw = { hyperparams: { global: { num_parties: 2, differential_privacy: { noise_multiplier: 1.1, clipping_norm: 0.7, mode: "distributed", target_epsilon: 4 } } }, parties: [{ name: "a", token: "t".repeat(16) }, { name: "b", token: "u".repeat(16) }] };
    expect(aggregatorSettings(parseAggregatorConfig(raw, "a.yml", "/x")).privacy).toEqual({ mode: "distributed", noiseMultiplier: 1.1, clippingNorm: 0.7, delta: 1e-5, samplingRate: 1, targetEpsilon: 4 });
    expect(aggregatorSettings(config({})).privacy).toBeUndefined();
  });
});
