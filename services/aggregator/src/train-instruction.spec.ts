import { describe, expect, it } from "vitest";
import { createStrategy } from "@cohort/fusion";
import type { AggregatorSettings } from "./settings.js";
import { trainInstruction } from "./train-instruction.js";

const local = { epochs: 2, batchSize: 32, validationSplit: 0.1 } as AggregatorSettings["local"];

describe("trainInstruction", () => {
  it("carries the local hyperparameters (absent steps and lr as 0) and the strategy's proximal mu", () => {
    const instruction = trainInstruction({ local } as AggregatorSettings, createStrategy({ name: "fedprox", mu: 0.25 }), 3);
    expect(instruction).toEqual({
      kind: "train",
      train: { round: 3, hyperparams: { epochs: 2, batchSize: 32, stepsPerEpoch: 0, validationSplit: 0.1, learningRate: 0, proximalMu: 0.25 } },
    });
  });

  it("passes steps per epoch and the learning rate through; FedAvg sends no proximal term", () => {
    const instruction = trainInstruction({ local: { ...local, stepsPerEpoch: 5, lr: 0.01 } } as AggregatorSettings, createStrategy({ name: "fedavg" }), 1);
    expect(instruction.kind === "train" && instruction.train.hyperparams).toMatchObject({ stepsPerEpoch: 5, learningRate: 0.01, proximalMu: 0 });
  });
});
