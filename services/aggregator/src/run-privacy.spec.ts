import { describe, expect, it } from "vitest";
import { type DifferentialPrivacySettings, RdpAccountant, createStrategy } from "@cohort/fusion";
import { createLogger } from "@cohort/telemetry";
import { RunPrivacy } from "./run-privacy.js";

const log = createLogger({ service: "test", level: "silent" });
const settings: DifferentialPrivacySettings = { mode: "distributed", noiseMultiplier: 1.2, clippingNorm: 1, delta: 1e-6, samplingRate: 0.25, targetEpsilon: 2 };

describe("RunPrivacy", () => {
  it("prices and records rounds as the accountant does, with fewer received updates costing more (distributed)", () => {
    const privacy = new RunPrivacy(createStrategy({ name: "fedavg" }), settings, log);
    privacy.strategy.configureTrain(1, 4);
    const full = privacy.record(4);
    privacy.strategy.configureTrain(2, 4);
    const dropped = privacy.record(1);
    expect(full.noise_multiplier).toBe(1.2);
    expect(dropped.noise_multiplier).toBeCloseTo(0.6, 12);
    const reference = new RdpAccountant();
    reference.compose({ samplingRate: 0.25, noiseMultiplier: 1.2 });
    reference.compose({ samplingRate: 0.25, noiseMultiplier: 0.6 });
    expect(dropped.epsilon).toBeCloseTo(reference.epsilon(1e-6).epsilon, 12);
    expect(privacy.summary()).toMatchObject({ mode: "distributed", rounds_accounted: 2, epsilon: dropped.epsilon, target_epsilon: 2 });
  });

  it("stops before the round that would pass the budget, and says by how much", () => {
    const privacy = new RunPrivacy(createStrategy({ name: "fedavg" }), { ...settings, noiseMultiplier: 3, samplingRate: 1, targetEpsilon: 3 }, log);
    let round = 1;
    while (!privacy.budgetStop(round)) privacy.record(4), round++;
    const reason = privacy.budgetStop(round)!;
    expect(round).toBeGreaterThan(2);
    expect(privacy.ledger.epsilon).toBeLessThanOrEqual(3);
    expect(reason).toMatch(new RegExp(`^privacy budget: round ${round} would take epsilon to \\d+\\.\\d{3} > target_epsilon 3 \\(delta 0.000001\\); spent \\d+\\.\\d{3} in ${round - 1} rounds$`));
  });

  it("resumes the ledger and the adaptive clip norm from metrics.jsonl", () => {
    const adaptive = { ...settings, mode: "central" as const, clippingNorm: undefined, adaptiveClipping: { targetQuantile: 0.5, learningRate: 0.2, initialNorm: 0.1, clippedCountStddev: 5 } };
    const first = new RunPrivacy(createStrategy({ name: "fedavg" }), adaptive, log);
    const history = [1, 2, 3].map((round) => ({ round, privacy: { ...first.record(4), next_clip_norm: 0.1 * round } }));
    const resumed = new RunPrivacy(createStrategy({ name: "fedavg" }), adaptive, log);
    resumed.restore(history);
    expect(resumed.ledger.epsilon).toBeCloseTo(first.ledger.epsilon, 12);
    expect(resumed.strategy.clipNorm).toBeCloseTo(0.3, 12);
  });

  it("samples each party with probability q (Poisson), from node:crypto", () => {
    const privacy = new RunPrivacy(createStrategy({ name: "fedavg" }), settings, log);
    const parties = Array.from({ length: 200 }, (_, i) => `party${i}`);
    let total = 0;
    for (let k = 0; k < 50; k++) total += privacy.sample(parties).length;
    // 10,000 coins at q = 0.25: mean 2,500, std 43.
    expect(Math.abs(total - 2500)).toBeLessThan(220);
    const all = new RunPrivacy(createStrategy({ name: "fedavg" }), { ...settings, samplingRate: 1 }, log);
    expect(all.sample(parties)).toEqual(parties);
  });
});
