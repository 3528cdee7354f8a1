/**
 * TfjsLearner on the tensorflow backend trains through one TensorFlow graph per batch
 * (packages/models/src/native-graph) when the model's layers and loss allow, and says why not
 * otherwise. Runs where a tfjs-node binding is built; CI requires it with COHORT_EXPECT_TENSORFLOW=1.
 */
import { beforeAll, describe, expect, it } from "vitest";
import type { Dataset } from "@cohort/data";
import { installedNativeBinding, kerasOptimizer, type LayersModel, selectBackend, tfl } from "@cohort/models";
import { TfjsLearner } from "./tfjs-learner.js";

const native = installedNativeBinding();
const skipped = native ? "" : " (skipped: no tfjs-node binding is built here; `cohort backend install tensorflow` builds one)";

it.runIf(process.env.COHORT_EXPECT_TENSORFLOW === "1" && !native)("has a tfjs-node binding (COHORT_EXPECT_TENSORFLOW=1)", () => {
  expect.fail("no @tensorflow/tfjs-node(-gpu) binding is built: run cohort backend install tensorflow");
});

const SIDE = 12;

/** n images of LCG noise in [0, 1), labels i mod 10. */
function dataset(n: number): Dataset {
  const x = new Float32Array(n * SIDE * SIDE);
  let s = 12345;
  for (let i = 0; i < x.length; i++) { s = (s * 1664525 + 1013904223) >>> 0; x[i] = s / 2 ** 32; }
  const split = { x, xShape: [n, SIDE, SIDE, 1], y: Int32Array.from({ length: n }, (_, i) => i % 10), yShape: [n] };
  return { train: split, test: split, description: "synthetic" };
}

/** Conv-pool-dropout-dense with fixed initial weights (the same model every call). */
function cnn(extra: tfl.layers.Layer[] = [], dropout = 0.3): LayersModel {
  const model = tfl.sequential({
    layers: [
      tfl.layers.conv2d({ inputShape: [SIDE, SIDE, 1], filters: 4, kernelSize: 3, activation: "relu", kernelInitializer: tfl.initializers.glorotUniform({ seed: 1 }) }),
      tfl.layers.maxPooling2d({ poolSize: 2 }),
      ...extra,
      tfl.layers.dropout({ rate: dropout }),
      tfl.layers.flatten(),
      tfl.layers.dense({ units: 10, activation: "softmax", kernelInitializer: tfl.initializers.glorotUniform({ seed: 2 }) }),
    ],
  });
  model.compile({ optimizer: kerasOptimizer("Adam", { lr: 0.01 }), loss: "categoricalCrossentropy", metrics: ["accuracy"] });
  return model;
}

const flat = (learner: TfjsLearner) => learner.getWeights().flatMap((w) => Array.from(w.data as Float32Array));

describe.skipIf(!native)(`TfjsLearner graph training on the tensorflow backend${skipped}`, () => {
  beforeAll(async () => {
    expect((await selectBackend("tensorflow")).name).toBe("tensorflow");
  });

  it("trains supported models through the graph and says why not for others (and for other backends)", async () => {
    const learner = new TfjsLearner(cnn(), dataset(40), "tensorflow", "synthetic");
    expect(learner.graphTraining).toEqual({ enabled: true });
    const result = await learner.train({ epochs: 2, batchSize: 16, validationSplit: 0 });
    expect(Object.keys(result.metrics).sort()).toEqual(["accuracy", "loss"]);
    expect(result.metrics.loss).toBeGreaterThan(0);
    expect(result.numExamples).toBe(40);
    await learner.close();
    expect(new TfjsLearner(cnn([tfl.layers.upSampling2d({})]), dataset(4), "tensorflow", "synthetic").graphTraining).toEqual({ enabled: false, reason: expect.stringMatching(/is a UpSampling2D \(the graph trainer knows .*Conv2D, /) });
    expect(new TfjsLearner(cnn(), dataset(4), "wasm", "synthetic").graphTraining).toEqual({ enabled: false, reason: "graph training is for the tensorflow backend, not wasm" });
  });

  it("the same seed gives the same weights twice with dropout; another seed other weights", async () => {
    const run = async (seed: number) => {
      const learner = new TfjsLearner(cnn(), dataset(48), "tensorflow", "synthetic", undefined, { seed });
      expect(learner.graphTraining.enabled).toBe(true);
      await learner.train({ epochs: 2, batchSize: 16, validationSplit: 0 });
      await learner.close();
      return flat(learner);
    };
    const [a, b, c] = [await run(7), await run(7), await run(8)];
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
  });

  it("keeps the progress callback, stop(), FedProx's step, and fit's validation split", async () => {
    const steps: string[] = [];
    let learner: TfjsLearner | undefined;
    learner = new TfjsLearner(cnn(), dataset(80), "tensorflow", "synthetic", (s) => {
      steps.push(`${s.epoch}:${s.batch}/${s.batches}`);
      expect(Number.isFinite(s.loss)).toBe(true);
      if (steps.length === 2) learner!.stop();
    });
    await learner.train({ epochs: 3, batchSize: 16, validationSplit: 0 });
    expect(steps).toEqual(["1:1/5", "1:2/5"]);

    // FedProx pulls the weights toward the round's start: a strong term moves them less.
    const moved = async (proximalMu: number | undefined) => {
      const l = new TfjsLearner(cnn(), dataset(48), "tensorflow", "synthetic", undefined, { seed: 3 });
      const before = flat(l);
      await l.train({ epochs: 1, batchSize: 16, validationSplit: 0, lr: 0.01, proximalMu });
      const after = flat(l);
      return Math.sqrt(after.reduce((s, v, i) => s + (v - before[i]!) ** 2, 0));
    };
    expect(await moved(50)).toBeLessThan(0.8 * (await moved(undefined)));

    // validation_split: the graph loop holds out and evaluates the same rows as fit (no dropout, no shuffling: the same numbers).
    const split = async (graph: boolean) => {
      if (!graph) process.env.COHORT_GRAPH_TRAINING = "0";
      try {
        const l = new TfjsLearner(cnn([], 0), dataset(40), "tensorflow", "synthetic", undefined, { shuffle: false });
        expect(l.graphTraining.enabled).toBe(graph);
        return (await l.train({ epochs: 1, batchSize: 16, validationSplit: 0.25 })).metrics;
      } finally {
        delete process.env.COHORT_GRAPH_TRAINING;
      }
    };
    const [viaGraph, viaFit] = [await split(true), await split(false)];
    expect(Object.keys(viaGraph).sort()).toEqual(["accuracy", "loss", "val_acc", "val_loss"]);
    expect(Object.keys(viaFit).sort()).toEqual(Object.keys(viaGraph).sort());
    for (const name of Object.keys(viaFit)) expect(viaGraph[name], name).toBeCloseTo(viaFit[name]!, 5);
  });
});
