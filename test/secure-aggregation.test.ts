import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Party } from "@cohort/party";
import type { DifferentialPrivacySettings } from "@cohort/fusion";
import { type Dealer, quantizationStep, split } from "@cohort/secagg";
import type { Manifest, WeightSet } from "@cohort/tensors";
import { ArithmeticLearner } from "./helpers/arithmetic-learner.js";
import { readRoundLines, runParties, startAggregator, testLogger } from "./helpers/federation.js";
import { mnistLearners } from "./helpers/mnist-learners.js";

const manifest: Manifest = { tensors: [{ name: "w", dtype: "float32", shape: [40, 25] }, { name: "b", dtype: "float32", shape: [25] }] };
const cleanup: (() => unknown)[] = [];
afterEach(async () => { for (const f of cleanup.splice(0)) await f(); });

/** A federation of arithmetic learners (party i: examples[i], offset[i]); `dealer`/`dropAt` make party i dishonest or leave after training in round 1. */
async function federation(options: {
  secure: boolean; examples: number[]; offsets: number[]; rounds?: number; threshold?: number; neighbours?: number; algorithm?: "fedavg" | "fedavgm" | "iteravg"; stagingMemoryBytes?: number;
  dealers?: Record<number, Dealer>; dropAfterTraining?: number[]; privacy?: DifferentialPrivacySettings;
}) {
  const n = options.examples.length;
  const parties = Array.from({ length: n }, (_, i) => ({ name: `party${i}`, token: `token-of-party-${i}` }));
  const { aggregator, port, outputDir } = await startAggregator({
    rounds: options.rounds ?? 2, numParties: n, parties, maxTimeoutMs: 15_000, percQuorum: 0.5, algorithm: options.algorithm ?? "fedavg",
    ...(options.stagingMemoryBytes === undefined ? {} : { stagingMemoryBytes: options.stagingMemoryBytes }),
    ...(options.privacy ? { privacy: options.privacy } : {}),
    ...(options.secure ? { secureAggregation: { ...(options.threshold ? { threshold: options.threshold } : {}), ...(options.neighbours ? { neighbours: options.neighbours } : {}) } } : {}),
  });
  cleanup.push(() => aggregator.forceClose());
  const learners = options.examples.map((examples, i) => new ArithmeticLearner(manifest, examples, options.offsets[i], 0.25));
  const run = aggregator.run();
  const runs = learners.map((learner, i) => {
    const party = new Party({ name: `party${i}`, token: `token-of-party-${i}`, host: "127.0.0.1", port }, learner, testLogger(`party${i}`), { dealer: options.dealers?.[i] });
    cleanup.push(() => party.close());
    // A party that leaves after the key exchange: its training ends, it closes instead of uploading.
    if (options.dropAfterTraining?.includes(i)) learner.beforeUpload = () => party.close();
    return party.run().catch(() => "failed");
  });
  const summary = await run;
  await Promise.all(runs);
  return { summary, outputDir, lines: summary.rounds_completed ? await readRoundLines(outputDir) : [] };
}

async function checkpoint(dir: string, round: number): Promise<Float32Array> {
  const bytes = await readFile(join(dir, "checkpoints", `round-${String(round).padStart(4, "0")}.bin`));
  return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
}

/** Dishonest dealer: the share at position x (party x-1's) is off its polynomial. */
const skewedAt = (x: number): Dealer => (secret, xs, t) => split(secret, xs, t).map((s) => (s.x === x ? { ...s, y: s.y + 1n } : s));
/** Default quantization: clipping range 8, 22 bits. */
const STEP = quantizationStep({ clippingRange: 8, bits: 22 });

describe("secure aggregation over gRPC", () => {
  it("gives plain FedAvg's model within the quantization error, round after round", async () => {
    const setup = { examples: [100, 300, 600], offsets: [1, -2, 0.5] };
    const plain = await federation({ ...setup, secure: false });
    const secure = await federation({ ...setup, secure: true });
    expect(secure.summary.rounds_completed).toBe(2);
    for (const round of [1, 2]) {
      const [a, b] = [await checkpoint(plain.outputDir, round), await checkpoint(secure.outputDir, round)];
      // FedAvg adds the example-weighted mean offset (-0.2) each round.
      expect(a[0]).toBeCloseTo(0.25 - 0.2 * round, 5);
      const worst = a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
      // Each round's sum of 3 quantized values is exact to 3 half-steps; the rounds add up, plus float32 rounding.
      expect(worst).toBeLessThanOrEqual(round * 1.5 * STEP + 1e-6);
    }
    expect(secure.lines[0].fusion).toMatchObject({ secure_aggregation: { survivors: 3, dropped: [] } });
  });

  it("composes with a server optimizer (FedAvgM): the same model as without secure aggregation, within the quantization error", async () => {
    const setup = { examples: [100, 300, 600], offsets: [1, -2, 0.5], algorithm: "fedavgm" as const };
    const plain = await federation({ ...setup, secure: false });
    const secure = await federation({ ...setup, secure: true });
    const [a, b] = [await checkpoint(plain.outputDir, 2), await checkpoint(secure.outputDir, 2)];
    // Momentum 0.9 carries round 1's change into round 2: not FedAvg's model.
    expect(Math.abs(a[0] - (0.25 - 0.4))).toBeGreaterThan(0.1);
    expect(a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0)).toBeLessThanOrEqual(4 * 1.5 * STEP + 1e-6);
  });

  it("with real MNIST training, the round's model is the FedAvg of the parties' trained weights within the quantization error", async () => {
    const learners = await mnistLearners(3, 200);
    const trained: { weights: WeightSet; examples: number }[] = [];
    for (const learner of learners) {
      const train = learner.train.bind(learner);
      // What the party masked: its weights after local training (the test sees them; the aggregator never does).
      learner.train = async (...args) => {
        const result = await train(...args);
        trained.push({ weights: learner.getWeights(), examples: result.numExamples });
        return result;
      };
    }
    const { aggregator, port, outputDir } = await startAggregator({ rounds: 1, secureAggregation: {}, local: { epochs: 1, batchSize: 32, validationSplit: 0, lr: 0.003 } });
    cleanup.push(() => aggregator.forceClose());
    const { lines } = await runParties(aggregator, port, outputDir, learners, cleanup as (() => void)[]);
    expect(lines[0].fusion).toMatchObject({ secure_aggregation: { survivors: 3, dropped: [] } });
    const total = trained.reduce((n, t) => n + t.examples, 0);
    const model = await checkpoint(outputDir, 1);
    let at = 0;
    let worst = 0;
    let changed = 0;
    for (let k = 0; k < trained[0].weights.length; k++) {
      const n = trained[0].weights[k].data.length;
      for (let j = 0; j < n; j++) {
        const expected = trained.reduce((sum, t) => sum + (t.examples / total) * (t.weights[k].data[j] as number), 0);
        worst = Math.max(worst, Math.abs(model[at + j] - expected));
        if (Math.abs(expected - (trained[0].weights[k].data[j] as number)) > 1e-3) changed++;
      }
      at += n;
    }
    expect(at).toBe(model.length);
    // The parties' weights differ (so the mean is not any one of them), and the secure mean is FedAvg's.
    expect(changed).toBeGreaterThan(model.length / 10);
    expect(worst).toBeLessThanOrEqual(1.5 * STEP + 1e-6);
  }, 120_000);

  it("recovers up to n - threshold parties that leave after the key exchange; the mean is the survivors'", async () => {
    const { summary, lines, outputDir } = await federation({ secure: true, rounds: 1, threshold: 3, examples: [100, 100, 200, 100, 100], offsets: [1, 2, 3, 4, 5], dropAfterTraining: [1, 3] });
    expect(summary.stopped_because).toBe("all rounds completed");
    expect(lines[0].fusion).toMatchObject({ secure_aggregation: { survivors: 3, dropped: ["party1", "party3"] } });
    // Survivors party0 (100, +1), party2 (200, +3), party4 (100, +5): mean offset 3.
    const model = await checkpoint(outputDir, 1);
    expect(Math.abs(model[0] - 3.25)).toBeLessThanOrEqual(2 * STEP);
  });

  it("fails the round with a clear message when more than n - threshold leave", async () => {
    const { summary } = await federation({ secure: true, rounds: 1, threshold: 3, examples: [100, 100, 100, 100], offsets: [1, 2, 3, 4], dropAfterTraining: [0, 1] });
    expect(summary.rounds_completed).toBe(0);
    expect(summary.stopped_because).toMatch(/round 1 failed: secure aggregation: 2 of the 4 parties that dealt shares sent no update \(party0, party1\); unmasking needs 3 survivors, so at most 1 may drop/);
  });

  it("names a party that deals inconsistent shares: outvoted with 5 parties, the round failed with 4", async () => {
    const five = await federation({ secure: true, rounds: 1, threshold: 3, examples: [100, 100, 100, 100, 100], offsets: [1, 1, 1, 1, 1], dealers: { 2: skewedAt(4) } });
    expect(five.summary.rounds_completed).toBe(1);
    const report = five.lines[0].fusion as { secure_aggregation: { warnings: string[] } };
    expect(report.secure_aggregation.warnings.join(" ")).toMatch(/party2's self-mask seed held by party3 disagrees with the other 4/);
    expect(Math.abs((await checkpoint(five.outputDir, 1))[0] - 1.25)).toBeLessThanOrEqual(2 * STEP);
    const four = await federation({ secure: true, rounds: 1, threshold: 3, examples: [100, 100, 100, 100], offsets: [1, 1, 1, 1], dealers: { 2: skewedAt(1) } });
    expect(four.summary.stopped_because).toMatch(/secure aggregation: party2's shares of its self-mask seed are inconsistent .*party2 dealt inconsistent shares/);
  });

  it("folds masked updates spilled to disk (no staging memory) to the same model", async () => {
    const { summary, outputDir } = await federation({ secure: true, rounds: 1, stagingMemoryBytes: 0, examples: [100, 300, 600], offsets: [1, -2, 0.5] });
    expect(summary.rounds_completed).toBe(1);
    expect(Math.abs((await checkpoint(outputDir, 1))[0] - 0.05)).toBeLessThanOrEqual(2 * STEP);
  });

  it("runs SecAgg+ neighbourhoods (k = 2 of 5) to the same model", async () => {
    const { summary, outputDir } = await federation({ secure: true, rounds: 1, neighbours: 2, examples: [100, 100, 100, 100, 100], offsets: [1, 2, 3, 4, 5] });
    expect(summary.rounds_completed).toBe(1);
    expect(Math.abs((await checkpoint(outputDir, 1))[0] - 3.25)).toBeLessThanOrEqual(3 * STEP);
  });

  it("composes with IterAvg (equal weights): each party pre-scales by 1/n, the same model as without secure aggregation", async () => {
    const setup = { examples: [100, 300, 600], offsets: [1, -2, 0.5], algorithm: "iteravg" as const };
    const plain = await federation({ ...setup, secure: false });
    const secure = await federation({ ...setup, secure: true });
    for (const round of [1, 2]) {
      const [a, b] = [await checkpoint(plain.outputDir, round), await checkpoint(secure.outputDir, round)];
      // The unweighted mean offset (-1/6 a round), not FedAvg's example-weighted -0.2.
      expect(a[0]).toBeCloseTo(0.25 - round / 6, 5);
      expect(a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0)).toBeLessThanOrEqual(round * 1.5 * STEP + 1e-6);
    }
  });

  it("composes with distributed DP: each party clips and noises before masking; the model and epsilon match distributed DP without secure aggregation", async () => {
    // C = 1 over 1025 elements: each party's update (its offset everywhere) is clipped to sign(offset) / sqrt(1025)
    // per element; z = 1e-4 keeps the noise (1e-4 / sqrt(3) per party and element) far under the bound below.
    const C = 1;
    const privacy: DifferentialPrivacySettings = { mode: "distributed", noiseMultiplier: 1e-4, clippingNorm: C, delta: 1e-5, samplingRate: 1 };
    const setup = { examples: [100, 300, 600], offsets: [1, -2, 0.5], privacy };
    const plain = await federation({ ...setup, secure: false });
    const secure = await federation({ ...setup, secure: true });
    expect(secure.summary.rounds_completed).toBe(2);
    const perRound = (1 - 1 + 1) / 3 * (C / Math.sqrt(1025)); // the unweighted mean of the clipped updates
    for (const round of [1, 2]) {
      const [a, b] = [await checkpoint(plain.outputDir, round), await checkpoint(secure.outputDir, round)];
      for (const model of [a, b]) expect(model.reduce((m, v) => Math.max(m, Math.abs(v - (0.25 + round * perRound))), 0)).toBeLessThan(5e-4 * round);
      const line = [plain, secure].map((r) => r.lines[round - 1].privacy);
      // Every survivor added its share: the same noise multiplier and epsilon with and without masking.
      expect(line[1]).toMatchObject({ noise_multiplier: 1e-4, clip_norm: C });
      expect(line[1].epsilon).toBe(line[0].epsilon);
    }
    expect(secure.lines[0].fusion).toMatchObject({ secure_aggregation: { survivors: 3, dropped: [] } });
  });

  it("is refused for strategies that need individual updates, and with max_update_norm, naming the field", async () => {
    await expect(startAggregator({ algorithm: "coordinate-median", secureAggregation: {} })).rejects.toThrow(/secure_aggregation: fusion coordinate-median needs every party's update on its own/);
    await expect(startAggregator({ algorithm: "krum", secureAggregation: {} })).rejects.toThrow(/fusion krum needs every party's update/);
    await expect(startAggregator({ secureAggregation: {}, privacy: { mode: "central", noiseMultiplier: 1, clippingNorm: 1, delta: 1e-5, samplingRate: 1 } })).rejects.toThrow(/differential_privacy.mode central clips each update at the aggregator.*use differential_privacy.mode distributed/);
    await expect(startAggregator({ maxUpdateNorm: 1, secureAggregation: {} })).rejects.toThrow(/max_update_norm needs each update's norm/);
  });
});
