import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import type { Manifest } from "@cohort/tensors";
import { WeightedSum } from "../accumulator.js";
import { type StagedBytes, UpdateStaging } from "../staging.js";
import { tempDir } from "../../../../test/helpers/temp-dirs.js";
import type { FusionStrategy, RoundInput } from "../strategy.js";
import { type FusionSettings, createStrategy } from "./index.js";

/** Written by ../../test-fixtures/make_strategy_references.py (numpy, float64). */
interface Case {
  name: string;
  shapes: number[][];
  previous: number[];
  rounds: { updates: number[][]; weights: number[] }[];
  expected: Record<string, number[]>;
  chosen: Record<string, number[]>;
  optimizers: Record<string, { params: Record<string, number>; rounds: number[][] }>;
}
const { cases } = JSON.parse(readFileSync(new URL("../../test-fixtures/strategy-references.json", import.meta.url), "utf8")) as { cases: Case[] };

function manifestOf(c: Case): Manifest {
  return { tensors: c.shapes.map((shape, i) => ({ name: `t${i}`, dtype: "float32" as const, shape })) };
}

function staged(values: ArrayLike<number>): StagedBytes {
  const bytes = new Uint8Array(Float32Array.from(values).buffer);
  return { size: bytes.byteLength, read: async (offset, length) => bytes.subarray(offset, offset + length), release: async () => undefined };
}

/** Runs one round of `strategy` as the aggregator does: fold (stream) or stage (staged), then aggregate. */
async function runRound(strategy: FusionStrategy, manifest: Manifest, previous: ArrayLike<number>, round: Case["rounds"][number], sliceBytes?: number) {
  const updates = round.updates.map((u, i) => ({ party: `party${i}`, staged: staged(u), numExamples: round.weights[i] }));
  const input: RoundInput = { round: 1, manifest, previous: staged(previous), updates: strategy.mode === "staged" ? updates : [], report: {}, sliceBytes };
  if (strategy.mode === "stream") {
    const sum = new WeightedSum(manifest);
    for (const u of updates) await sum.fold(u.staged, strategy.weightOf(u));
    input.sum = sum;
  }
  const parts: number[] = [];
  for await (const slice of strategy.aggregate(input)) parts.push(...new Float32Array(slice.slice().buffer));
  return { out: Float32Array.from(parts), report: input.report };
}

/** Our float32 output is numpy's float64 value rounded: within one float32 ulp of it. */
function expectClose(actual: Float32Array, expected: number[], label: string): void {
  expect(actual.length, label).toBe(expected.length);
  for (let j = 0; j < expected.length; j++) {
    const tolerance = Math.max(Math.abs(expected[j]) * 2 ** -23, 1e-45);
    if (!(Math.abs(actual[j] - expected[j]) <= tolerance)) expect.fail(`${label}: element ${j} is ${actual[j]}, numpy says ${expected[j]}`);
  }
}

const ROBUST: [string, FusionSettings][] = [
  ["fedavg", { name: "fedavg" }],
  ["iteravg", { name: "iteravg" }],
  ["coordinate-median", { name: "coordinate-median" }],
  ["trimmed-mean", { name: "trimmed-mean", beta: 0.2 }],
  ["krum", { name: "krum", byzantine: 1 }],
  ["multi-krum", { name: "multi-krum", byzantine: 1 }],
  ["multi-krum-f2-m3", { name: "multi-krum", byzantine: 2, keep: 3 }],
];

describe("fusion strategies against numpy's float64 references", () => {
  for (const c of cases) {
    describe(c.name, () => {
      const manifest = manifestOf(c);
      for (const [key, settings] of ROBUST) {
        it(`${key} matches numpy`, async () => {
          const { out, report } = await runRound(createStrategy(settings), manifest, c.previous, c.rounds[0]);
          expectClose(out, c.expected[key], key);
          if (c.chosen[key]) expect(report.krum_selected).toEqual(c.chosen[key].map((i) => `party${i}`));
        });
      }
      it("median, trimmed mean and Krum read in slices of 64 values give the same bytes as in one slice", async () => {
        for (const [key, settings] of ROBUST.slice(2)) {
          const whole = await runRound(createStrategy(settings), manifest, c.previous, c.rounds[0]);
          const sliced = await runRound(createStrategy(settings), manifest, c.previous, c.rounds[0], 64 * 8 * c.rounds[0].updates.length);
          expect(sliced.out, key).toEqual(whole.out);
        }
      });
      for (const [name, reference] of Object.entries(c.optimizers)) {
        it(`${name} over two rounds matches numpy`, async () => {
          const strategy = createStrategy({ name: name as FusionSettings["name"], ...reference.params });
          let previous: ArrayLike<number> = Float32Array.from(c.previous);
          for (let r = 0; r < c.rounds.length; r++) {
            const { out } = await runRound(strategy, manifest, previous, c.rounds[r]);
            expectClose(out, reference.rounds[r], `${name} round ${r + 1}`);
            previous = out;
          }
        });
        it(`${name} restored from its saved state after round 1 makes numpy's round 2 (a resumed run)`, async () => {
          const first = createStrategy({ name: name as FusionSettings["name"], ...reference.params });
          expect(first.saveState?.()).toBeUndefined(); // nothing to save before the first round
          const { out } = await runRound(first, manifest, c.previous, c.rounds[0]);
          const saved = first.saveState!()!;
          const resumed = createStrategy({ name: name as FusionSettings["name"], ...reference.params });
          resumed.restoreState!(saved, manifest);
          expectClose((await runRound(resumed, manifest, out, c.rounds[1])).out, reference.rounds[1], `${name} resumed round 2`);
        });
      }
    });
  }
});

describe("server optimizer state", () => {
  const manifest: Manifest = { tensors: [{ name: "w", dtype: "float32", shape: [3] }] };
  it("is refused when it is another strategy's, lacks a moment, or has another size than the model", () => {
    const adam = createStrategy({ name: "fedadam" });
    const values = new Float64Array(3);
    expect(() => adam.restoreState!({ strategy: "fedyogi", arrays: [{ name: "m", values }, { name: "v", values }] }, manifest)).toThrow("fedadam cannot take the state of fedyogi");
    expect(() => adam.restoreState!({ strategy: "fedadam", arrays: [{ name: "m", values }] }, manifest)).toThrow("fedadam state holds m, expected m, v");
    expect(() => adam.restoreState!({ strategy: "fedadam", arrays: [{ name: "m", values }, { name: "v", values: new Float64Array(4) }] }, manifest))
      .toThrow("fedadam state v has 4 values, the model 3 weights");
    expect(createStrategy({ name: "fedavg" }).restoreState).toBeUndefined();
  });
});

describe("staged strategies over updates spilled to disk", () => {
  it("read the same bytes from staged files as from memory (median, trimmed mean, multi-Krum)", async () => {
    const c = cases[0];
    const manifest = manifestOf(c);
    const staging = new UpdateStaging({ dir: await tempDir("strategy-spill-"), memoryBudgetBytes: 0 });
    const updates = [];
    for (const [i, values] of c.rounds[0].updates.entries()) {
      const writer = await staging.begin(4 * values.length);
      await writer.write(new Uint8Array(Float32Array.from(values).buffer));
      updates.push({ party: `party${i}`, staged: await writer.commit(), numExamples: c.rounds[0].weights[i] });
    }
    try {
      for (const [key, settings] of [ROBUST[2], ROBUST[3], ROBUST[5]]) {
        const input: RoundInput = { round: 1, manifest, previous: staged(c.previous), updates, report: {}, sliceBytes: 64 * 8 * updates.length };
        const parts: number[] = [];
        for await (const slice of createStrategy(settings).aggregate(input)) parts.push(...new Float32Array(slice.slice().buffer));
        expectClose(Float32Array.from(parts), c.expected[key], `${key} from disk`);
      }
    } finally {
      await Promise.all(updates.map((u) => u.staged.release()));
    }
  });
});

describe("strategy parameters", () => {
  it("refuses out-of-range parameters, naming them", () => {
    expect(() => createStrategy({ name: "trimmed-mean", beta: 0.5 })).toThrow(/beta must be in \[0, 0.5\)/);
    expect(() => createStrategy({ name: "krum", byzantine: -1 })).toThrow(/krum f/);
    expect(() => createStrategy({ name: "fedadam", beta2: 1 })).toThrow(/fedadam beta2/);
    expect(() => createStrategy({ name: "fedprox", mu: -0.1 })).toThrow(/mu must be/);
  });

  it("FedProx folds as FedAvg and sends mu with the train instruction", () => {
    const fedprox = createStrategy({ name: "fedprox", mu: 0.05 });
    expect(fedprox.configureTrain(1)).toEqual({ proximalMu: 0.05 });
    expect(fedprox.weightOf({ numExamples: 30 })).toBe(30);
    expect(createStrategy({ name: "fedavg" }).configureTrain(1)).toEqual({ proximalMu: 0 });
  });

  it("Krum with one byzantine party ignores a far-away update and picks an honest one", async () => {
    const manifest: Manifest = { tensors: [{ name: "w", dtype: "float32", shape: [4] }] };
    const honest = [[1, 1, 1, 1], [1.1, 0.9, 1, 1], [0.9, 1.1, 1, 1], [1, 1, 1.1, 0.9]];
    const round = { updates: [...honest, [1e6, -1e6, 1e6, -1e6]], weights: [1, 1, 1, 1, 1e9] };
    const { out, report } = await runRound(createStrategy({ name: "krum", byzantine: 1 }), manifest, [0, 0, 0, 0], round);
    expect(report.krum_selected).not.toContain("party4");
    for (const v of out) expect(Math.abs(v - 1)).toBeLessThan(0.11);
  });
});
