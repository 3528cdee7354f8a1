import { describe, expect, it } from "vitest";
import { DpFedAvgStrategy, createStrategy } from "@cohort/fusion";
import type { AggregatorSettings } from "./settings.js";
import { trainInstruction } from "./train-instruction.js";

const local = { epochs: 2, batchSize: 32, validationSplit: 0.1 } as AggregatorSettings["local"];

describe("trainInstruction", () => {
  it("carries the local hyperparameters (absent steps and lr as 0) and the strategy's proximal mu", () => {
    const instruction = trainInstruction({ local } as AggregatorSettings, createStrategy({ name: "fedprox", mu: 0.25 }), 3, 4);
    expect(instruction).toEqual({
      kind: "train",
      train: { round: 3, hyperparams: { epochs: 2, batchSize: 32, stepsPerEpoch: 0, validationSplit: 0.1, learningRate: 0, proximalMu: 0.25 } },
    });
  });

  it("passes steps per epoch and the learning rate through; FedAvg sends no proximal term", () => {
    const instruction = trainInstruction({ local: { ...local, stepsPerEpoch: 5, lr: 0.01 } } as AggregatorSettings, createStrategy({ name: "fedavg" }), 1, 4);
    expect(instruction.kind === "train" && instruction.train.hyperparams).toMatchObject({ stepsPerEpoch: 5, learningRate: 0.01, proximalMu: 0 });
  });

  it("gives each party its share of distributed DP's noise for the round's number of parties", () => {
    const dp = new DpFedAvgStrategy(createStrategy({ name: "fedavg" }), { mode: "distributed", noiseMultiplier: 2, clippingNorm: 0.5, delta: 1e-5, samplingRate: 1 });
    const instruction = trainInstruction({ local } as AggregatorSettings, dp, 1, 4);
    // N(0, z^2 C^2 / n) each: stddev 2 * 0.5 / sqrt(4).
    expect(instruction.kind === "train" && instruction.train.hyperparams).toMatchObject({ dpClipNorm: 0.5, dpNoiseStddev: 0.5 });
  });
});
