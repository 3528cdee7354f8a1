import { afterEach, describe, expect, it } from "vitest";
import type { DifferentialPrivacySettings } from "@cohort/fusion";
import { RdpAccountant } from "@cohort/fusion";
import { Aggregator } from "@cohort/aggregator";
import { capturingLogger, partyList, readRoundLines, startParties } from "./helpers/federation.js";
import { tempDir } from "./helpers/temp-dirs.js";
import { mnistLearners } from "./helpers/mnist-learners.js";

/**
 * DP-FedAvg over real gRPC with three in-process parties training the MNIST CNN on shards of
 * the embedded digits: central noise (the aggregator clips and noises) and distributed noise
 * (each party clips and adds its share before upload). Each run has an epsilon budget that
 * the third round would pass: the run must stop after two, say why, and report epsilon after
 * every round as the accountant computes it.
 */
const EXAMPLES = 120;
const ROUNDS = 4;
const DELTA = 1e-5;
const Z = 0.8;

const cleanup: (() => void)[] = [];
afterEach(() => { cleanup.splice(0).forEach((f) => f()); });

/** Epsilon after `rounds` rounds of every party (q = 1) at noise multiplier Z: the accountant's own answer. */
function epsilonAfter(rounds: number): number {
  const accountant = new RdpAccountant();
  accountant.compose({ samplingRate: 1, noiseMultiplier: Z }, rounds);
  return accountant.epsilon(DELTA).epsilon;
}

async function federation(mode: DifferentialPrivacySettings["mode"], clipping: Pick<DifferentialPrivacySettings, "clippingNorm" | "adaptiveClipping"> = { clippingNorm: 0.5 }) {
  // Between the epsilon of 2 rounds and that of 3: round 3 must not run.
  const targetEpsilon = (epsilonAfter(2) + epsilonAfter(3)) / 2;
  const privacy: DifferentialPrivacySettings = { mode, noiseMultiplier: Z, ...clipping, delta: DELTA, samplingRate: 1, targetEpsilon };
  const aggregatorLog = capturingLogger("aggregator");
  const outputDir = await tempDir("cohort-dp-");
  const aggregator = new Aggregator({
    host: "127.0.0.1", port: 0, chunkSize: 64 * 1024, algorithm: "fedavg", rounds: ROUNDS, numParties: 3, percQuorum: 1, maxTimeoutMs: 120_000,
    local: { epochs: 1, batchSize: 32, validationSplit: 0, lr: 0.01 }, outputDir, parties: partyList(3), privacy,
  }, aggregatorLog.log);
  const port = await aggregator.start();
  cleanup.push(() => aggregator.forceClose());
  const partyLogs = [0, 1, 2].map((i) => capturingLogger(`party${i}`));
  const run = aggregator.run();
  const parties = startParties(port, await mnistLearners(3, EXAMPLES), cleanup, { logger: (i) => partyLogs[i].log });
  const [summary] = await Promise.all([run, ...parties]);
  return { summary, lines: await readRoundLines(outputDir), aggregatorLog: aggregatorLog.lines, partyLogs: partyLogs.map((l) => l.lines), targetEpsilon };
}

describe("differential privacy on real MNIST digits over gRPC (3 parties)", () => {
  it.each(["central", "distributed"] as const)("%s noise: epsilon after every round, and a clean stop at the budget", async (mode) => {
    const { summary, lines, aggregatorLog, partyLogs, targetEpsilon } = await federation(mode);
    expect(summary.rounds_completed).toBe(2);
    expect(summary.stopped_because).toMatch(new RegExp(`privacy budget: round 3 would take epsilon to ${epsilonAfter(3).toFixed(3)} > target_epsilon ${targetEpsilon}`));
    expect(lines.map((l) => l.round)).toEqual([1, 2]);
    lines.forEach((line, k) => {
      expect(line.privacy.epsilon, `round ${line.round}`).toBeCloseTo(epsilonAfter(k + 1), 9);
      expect(line.privacy).toMatchObject({ delta: DELTA, noise_multiplier: Z, clip_norm: 0.5 });
      // All three parties evaluated the noised model.
      expect(line.eval_parties).toBe(3);
    });
    expect(summary.privacy).toMatchObject({ mode, delta: DELTA, rounds_accounted: 2, target_epsilon: targetEpsilon });
    expect(summary.privacy!.epsilon).toBeCloseTo(epsilonAfter(2), 9);
    const epsilonLines = aggregatorLog.filter((l) => l.phase === "privacy" && typeof l.epsilon === "number" && l.round !== undefined && String(l.msg).includes("epsilon"));
    expect(epsilonLines.map((l) => l.round)).toEqual([1, 2, 3]); // rounds 1 and 2 spent, round 3 refused
    if (mode === "central") {
      // The aggregator clipped: every update of the MNIST CNN moves far more than 0.5 in a round.
      for (const line of lines) expect(line.fusion.privacy).toMatchObject({ mode: "central", clip_norm: 0.5, noise_stddev: Z * 0.5, unclipped: 0 });
      for (const logs of partyLogs) expect(logs.some((l) => l.phase === "privacy")).toBe(false);
    } else {
      // Each party clipped and added its share, z C / sqrt(3), before upload; the aggregator added nothing.
      for (const logs of partyLogs) {
        const shares = logs.filter((l) => l.phase === "privacy");
        expect(shares).toHaveLength(2);
        for (const share of shares) {
          expect(share).toMatchObject({ clipped: true, clip_norm: 0.5 });
          expect(share.noise_stddev as number).toBeCloseTo((Z * 0.5) / Math.sqrt(3), 12);
        }
      }
      for (const line of lines) expect(line.fusion.privacy).toEqual({ mode: "distributed", clip_norm: 0.5, next_clip_norm: 0.5 });
    }
  }, 300_000);

  it("adaptive clipping: the clip norm moves after each round and the next round uses it", async () => {
    // Every CNN update is far over 0.01: b = 0 each round, so C grows by about exp(0.2 * 0.5) a round (the count's noise moves it a little).
    const adaptiveClipping = { targetQuantile: 0.5, learningRate: 0.2, initialNorm: 0.01, clippedCountStddev: 1 };
    const { summary, lines } = await federation("central", { adaptiveClipping });
    expect(summary.rounds_completed).toBe(2);
    const [first, second] = lines;
    expect(first.privacy.clip_norm).toBe(0.01);
    expect(first.privacy.next_clip_norm).not.toBe(0.01);
    expect(second.privacy.clip_norm).toBe(first.privacy.next_clip_norm);
    expect(first.fusion.privacy).toMatchObject({ mode: "central", unclipped: 0 });
    // The update's share of the noise is what is left once the count takes its own: z_delta = (z^-2 - (2 sigma_b)^-2)^-1/2.
    expect((first.fusion.privacy as { noise_stddev: number }).noise_stddev).toBeCloseTo((Z ** -2 - 2 ** -2) ** -0.5 * 0.01, 12);
    expect(summary.privacy!.clip_norm).toBe(second.privacy.next_clip_norm);
  }, 300_000);
});
