import { describe, expect, it } from "vitest";
import type { Manifest } from "@cohort/tensors";
import { WeightedSum } from "../accumulator.js";
import type { StagedBytes } from "../staging.js";
import type { RoundInput } from "../strategy.js";
import { createStrategy } from "../strategies/index.js";
import { DpFedAvgStrategy } from "./dp-fedavg.js";
import type { DifferentialPrivacySettings } from "./dp-settings.js";

function staged(values: ArrayLike<number>): StagedBytes {
  const bytes = new Uint8Array(Float32Array.from(values).buffer);
  return { size: bytes.byteLength, read: async (offset, length) => bytes.subarray(offset, offset + length), release: async () => undefined };
}

const ELEMENTS = 20_000;
const manifest: Manifest = { tensors: [{ name: "w", dtype: "float32", shape: [ELEMENTS / 2] }, { name: "b", dtype: "float32", shape: [ELEMENTS / 2] }, { name: "steps", dtype: "int32", shape: [1] }] };
const central: DifferentialPrivacySettings = { mode: "central", noiseMultiplier: 1.5, clippingNorm: 2, delta: 1e-5, samplingRate: 1 };

/** One round as the aggregator runs it: transformUpdate, fold with weightOf, aggregate; the new model as float64. */
async function round(strategy: DpFedAvgStrategy, previous: number[], updates: number[][], numExamples: number[]): Promise<{ model: Float64Array; report: Record<string, unknown> }> {
  const prev = staged(previous);
  strategy.configureTrain(1, updates.length);
  const sum = new WeightedSum(manifest);
  for (const [i, u] of updates.entries()) {
    const { staged: clipped, unclipped } = await strategy.transformUpdate(manifest, staged(u), prev);
    if (unclipped) strategy.countUnclipped();
    await sum.fold(clipped, strategy.weightOf());
    expect(strategy.weightOf(), `party ${i} weighs 1 whatever its ${numExamples[i]} examples`).toBe(1);
  }
  const input: RoundInput = { round: 1, manifest, previous: prev, sum, updates: [], report: {} };
  const bytes: number[] = [];
  for await (const slice of strategy.aggregate(input)) bytes.push(...slice);
  const f32 = new Float32Array(Uint8Array.from(bytes.slice(0, 4 * ELEMENTS)).buffer);
  return { model: Float64Array.from(f32), report: input.report };
}

describe("DP-FedAvg strategy", () => {
  it("clips each update to C and adds N(0, z^2 C^2) to the sum (central): the mean's noise has std z C / n", async () => {
    const strategy = new DpFedAvgStrategy(createStrategy({ name: "fedavg" }), central);
    const previous = new Array(ELEMENTS + 1).fill(0.5);
    // Party 0's update has norm 1 (under C), party 1's norm 100 (clipped to 2), party 2's is zero.
    const small = previous.map((v, j) => (j < ELEMENTS ? v + 1 / Math.sqrt(ELEMENTS) : v));
    const large = previous.map((v, j) => (j < ELEMENTS ? v + 100 / Math.sqrt(ELEMENTS) : v));
    const { model, report } = await round(strategy, previous, [small, large, previous], [10, 100_000, 1]);
    // Expected mean without noise: (1 + 2) / sqrt(d) / 3 per coordinate over the previous model.
    const expectedShift = 3 / Math.sqrt(ELEMENTS) / 3;
    let sum = 0;
    let squares = 0;
    for (const v of model) {
      const noise = v - 0.5 - expectedShift;
      sum += noise;
      squares += noise * noise;
    }
    const mean = sum / ELEMENTS;
    const std = Math.sqrt(squares / ELEMENTS - mean * mean);
    const expectedStd = (1.5 * 2) / 3;
    expect(Math.abs(mean)).toBeLessThan((5 * expectedStd) / Math.sqrt(ELEMENTS));
    expect(Math.abs(std / expectedStd - 1)).toBeLessThan(0.03);
    expect(report.privacy).toMatchObject({ mode: "central", clip_norm: 2, noise_stddev: 3, unclipped: 2 });
  });

  it("clips exactly to C in float64 without noise (z = 0 pins the arithmetic)", async () => {
    const strategy = new DpFedAvgStrategy(createStrategy({ name: "iteravg" }), { ...central, noiseMultiplier: 0 });
    const previous = new Array(ELEMENTS + 1).fill(0);
    const update = previous.map((_, j) => (j < ELEMENTS ? (j % 2 ? 3 : -4) : 7));
    const { model } = await round(strategy, previous, [update], [1]);
    const norm = Math.sqrt(model.reduce((s, v) => s + v * v, 0));
    expect(norm).toBeCloseTo(2, 5);
  });

  it("sends each party its share z C / sqrt(n) in distributed mode and adds nothing itself", () => {
    const strategy = new DpFedAvgStrategy(createStrategy({ name: "fedadam" }), { ...central, mode: "distributed" });
    expect(strategy.configureTrain(1, 4).privacy).toEqual({ clipNorm: 2, noiseStddev: (1.5 * 2) / 2 });
    // Two of four updates arrived: the sum holds half the noise variance.
    expect(strategy.releasedMultiplier(2)).toBeCloseTo(1.5 * Math.SQRT1_2, 12);
    expect(strategy.releasedMultiplier(4)).toBe(1.5);
  });

  it("refuses strategies that do not sum updates, and adaptive clipping with distributed noise", () => {
    expect(() => new DpFedAvgStrategy(createStrategy({ name: "krum" }), central)).toThrow(/sums updates .* not krum/);
    expect(() => new DpFedAvgStrategy(createStrategy({ name: "fedavg" }), { ...central, mode: "distributed", clippingNorm: undefined, adaptiveClipping: { targetQuantile: 0.5, learningRate: 0.2, initialNorm: 1, clippedCountStddev: 5 } })).toThrow(/adaptive clipping with distributed/);
  });

  it("moves the clip norm after the round with adaptive clipping", async () => {
    // z = 0 and a tiny count noise pin the step: b = 0 (all clipped), so C grows by exp(0.2 * 0.5).
    const strategy = new DpFedAvgStrategy(createStrategy({ name: "fedavg" }), { ...central, noiseMultiplier: 0, clippingNorm: undefined, adaptiveClipping: { targetQuantile: 0.5, learningRate: 0.2, initialNorm: 0.01, clippedCountStddev: 0.001 } });
    const previous = new Array(ELEMENTS + 1).fill(0);
    const update = previous.map((_, j) => (j < ELEMENTS ? 1 : 0));
    const { report } = await round(strategy, previous, [update, update, update], [1, 1, 1]);
    // All three were clipped (norm 141 > 0.01).
    expect(strategy.clipNorm / (0.01 * Math.exp(0.1)) - 1).toBeLessThan(1e-3);
    expect(strategy.clipNorm / (0.01 * Math.exp(0.1)) - 1).toBeGreaterThan(-1e-3);
    expect(report.privacy).toMatchObject({ clip_norm: 0.01, unclipped: 0 });
  });
});
