import { beforeAll, describe, expect, it } from "vitest";
import { type Dataset, mulberry32 } from "@cohort/data";
import { createMnistCnn, selectBackend, tf, tfl, torchLoss, torchOptimizer } from "@cohort/models";
import { TfjsLearner } from "./tfjs-learner.js";

function dataset(n: number, xShape: number[], labels: number[]): Dataset {
  const perExample = xShape.reduce((a, b) => a * b, 1);
  const split = { x: new Float32Array(n * perExample).fill(0.5), xShape: [n, ...xShape], y: Int32Array.from(labels), yShape: [n] };
  return { train: split, test: split, description: "synthetic" };
}

beforeAll(async () => {
  await selectBackend("auto");
});

describe("TfjsLearner checks data against the model before the party joins", () => {
  it("refuses images of the wrong shape, naming both shapes and where", () => {
    expect(() => new TfjsLearner(createMnistCnn(), dataset(2, [32, 32, 3], [0, 1]), "wasm", "party.yml: data"))
      .toThrow(/party\.yml: data \(train\): examples have shape \[32, 32, 3\].*but the model takes \[null, 28, 28, 1\]/);
  });

  it("refuses a class label outside the model's classes", () => {
    expect(() => new TfjsLearner(createMnistCnn(), dataset(3, [28, 28, 1], [0, 4, 12]), "wasm", "party.yml: data"))
      .toThrow(/label 12 at index 2 .*\[0, 10\)/);
  });

  it("trains, reports metrics under Keras names, and evaluates", async () => {
    const learner = new TfjsLearner(createMnistCnn(), dataset(8, [28, 28, 1], [0, 1, 2, 3, 4, 5, 6, 7]), "wasm", "synthetic");
    // The output bias: softmax cross-entropy gives it a gradient (p - y) on every step, whatever
    // the random init. The first conv kernel is not a sound check: with constant pixels, all of
    // its ReLUs can start dead (about 1 init in 256), and then it has no gradient at all.
    const biasIndex = learner.getWeights().length - 1;
    const before = learner.getWeights()[biasIndex].data.slice();
    const result = await learner.train({ epochs: 1, batchSize: 4, validationSplit: 0 });
    expect(result.numExamples).toBe(8);
    expect(result.samplesPerSecond).toBeCloseTo(8 / result.seconds, 6);
    expect(Number.isFinite(result.metrics.loss)).toBe(true);
    expect(result.metrics.accuracy).toBeGreaterThanOrEqual(0);
    expect(learner.getWeights()[biasIndex].data).not.toEqual(before);
    const evaluation = await learner.evaluate();
    expect(evaluation.numExamples).toBe(8);
    expect(Object.keys(evaluation.metrics).sort()).toEqual(["accuracy", "loss"]);
  });

  it("reports every batch of every epoch to the progress callback, with the batch count and loss", async () => {
    const steps: { epoch: number; epochs: number; batch: number; batches: number; loss: number | undefined }[] = [];
    const learner = new TfjsLearner(createMnistCnn(), dataset(10, [28, 28, 1], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]), "wasm", "synthetic", (step) => steps.push(step));
    await learner.train({ epochs: 2, batchSize: 4, validationSplit: 0 });
    // 10 examples in batches of 4: 3 batches an epoch, the last one short.
    expect(steps.map((s) => `${s.epoch}/${s.epochs}:${s.batch}/${s.batches}`)).toEqual(["1/2:1/3", "1/2:2/3", "1/2:3/3", "2/2:1/3", "2/2:2/3", "2/2:3/3"]);
    expect(steps.every((s) => Number.isFinite(s.loss))).toBe(true);
  });

  it("stop() ends training after the current batch (a party that leaves uploads nothing)", async () => {
    let batches = 0;
    let learner: TfjsLearner | undefined;
    learner = new TfjsLearner(createMnistCnn(), dataset(40, [28, 28, 1], Array.from({ length: 40 }, (_, i) => i % 10)), "wasm", "synthetic", () => {
      batches += 1;
      if (batches === 2) learner!.stop();
    });
    await learner.train({ epochs: 3, batchSize: 4, validationSplit: 0 });
    expect(batches).toBe(2); // of 3 epochs x 10 batches
  });

  it("caps an epoch at steps_per_epoch batches", async () => {
    const learner = new TfjsLearner(createMnistCnn(), dataset(40, [28, 28, 1], Array.from({ length: 40 }, (_, i) => i % 10)), "wasm", "synthetic");
    const result = await learner.train({ epochs: 2, batchSize: 4, stepsPerEpoch: 2, validationSplit: 0.25 });
    expect(result.numExamples).toBe(8);
    // Two epochs of 8 sampled examples, a quarter of each held out for validation: 12 trained.
    expect(result.samplesPerSecond).toBeCloseTo(12 / result.seconds, 6);
  });

  it("one-hot encodes class ids for a categorical loss and keeps them for a sparse one", async () => {
    const sparse = tfl.sequential({ layers: [tfl.layers.flatten({ inputShape: [28, 28, 1] }), tfl.layers.dense({ units: 10, activation: "softmax" })] });
    sparse.compile({ optimizer: tf.train.sgd(0.1), loss: "sparseCategoricalCrossentropy", metrics: ["accuracy"] });
    const learner = new TfjsLearner(sparse, dataset(4, [28, 28, 1], [1, 2, 3, 4]), "wasm", "synthetic");
    const result = await learner.train({ epochs: 1, batchSize: 2, validationSplit: 0 });
    expect(Number.isFinite(result.metrics.loss)).toBe(true);
  });

  it.each(["nn.NLLLoss", "nn.CrossEntropyLoss"])("one-hot encodes class ids for PyTorch's %s, so its loss picks each example's own class", async (criterion) => {
    const model = tfl.sequential({ layers: [tfl.layers.flatten({ inputShape: [1, 4, 4] }), tfl.layers.dense({ units: 5, biasInitializer: "randomNormal" })] });
    model.compile({ optimizer: torchOptimizer("optim.SGD", 0.1), loss: torchLoss(criterion), metrics: ["accuracy"] });
    const n = 6;
    const labels = [0, 1, 2, 3, 4, 2];
    const x = Float32Array.from({ length: n * 16 }, (_, k) => ((k * 7) % 11) / 11);
    const split = { x, xShape: [n, 1, 4, 4], y: Int32Array.from(labels), yShape: [n] };
    const learner = new TfjsLearner(model, { train: split, test: split, description: "synthetic" }, "wasm", "synthetic");
    // The reference loss from the model's own outputs: -mean(out[i, label_i]), with out the
    // log-probabilities (NLLLoss outputs them itself; CrossEntropyLoss takes logits).
    const expected = tf.tidy(() => {
      const out = model.predict(tf.tensor(x, split.xShape)) as tf.Tensor2D;
      const logp = (criterion === "nn.NLLLoss" ? out : tf.logSoftmax(out)).arraySync() as number[][];
      return -labels.reduce((sum, label, i) => sum + logp[i]![label]!, 0) / n;
    });
    const before = await learner.evaluate();
    expect(Object.keys(before.metrics).sort()).toEqual(["accuracy", "loss"]);
    expect(before.metrics.loss).toBeCloseTo(expected, 4);
    const result = await learner.train({ epochs: 1, batchSize: n, validationSplit: 0 });
    expect(Number.isFinite(result.metrics.loss)).toBe(true);
    expect((await learner.evaluate()).metrics.loss).toBeLessThan(before.metrics.loss!);
  });
});

describe("TfjsLearner with a seed", () => {
  /** 24 distinct examples: the batches' order changes what Adam makes of them. */
  function varied(): Dataset {
    const random = mulberry32(11);
    const x = Float32Array.from({ length: 24 * 784 }, () => random());
    const split = { x, xShape: [24, 28, 28, 1], y: Int32Array.from({ length: 24 }, (_, i) => i % 10), yShape: [24] };
    return { train: split, test: split, description: "synthetic" };
  }
  async function trainedWeights(seed: number, settings: { stepsPerEpoch?: number } = {}): Promise<Float32Array[]> {
    const learner = new TfjsLearner(createMnistCnn({ seed: 5 }), varied(), "wasm", "synthetic", undefined, { seed });
    await learner.train({ epochs: 2, batchSize: 4, validationSplit: 0, ...settings });
    return learner.getWeights().map((t) => t.data as Float32Array);
  }

  it("trains to the same weights from the same seed, and to others from another seed", async () => {
    const [a, b, c] = [await trainedWeights(1), await trainedWeights(1), await trainedWeights(2)];
    expect(b).toEqual(a);
    expect(c).not.toEqual(a);
  });

  it("draws steps_per_epoch samples from the seed too", async () => {
    const [a, b] = [await trainedWeights(1, { stepsPerEpoch: 2 }), await trainedWeights(1, { stepsPerEpoch: 2 })];
    expect(b).toEqual(a);
  });
});

describe("TfjsLearner with a seed, on a model with dropout", () => {
  function dropoutModel(layerSeed?: number): tfl.LayersModel {
    const init = (seed: number) => ({ kernelInitializer: tfl.initializers.glorotUniform({ seed }) });
    const model = tfl.sequential({
      layers: [
        tfl.layers.flatten({ inputShape: [28, 28, 1] }),
        tfl.layers.dense({ units: 32, activation: "relu", ...init(1) }),
        tfl.layers.dropout({ rate: 0.5, seed: layerSeed }),
        tfl.layers.dense({ units: 10, activation: "softmax", ...init(2) }),
      ],
    });
    model.compile({ optimizer: "adam", loss: "categoricalCrossentropy", metrics: ["accuracy"] });
    return model;
  }
  function digits(): Dataset {
    const random = mulberry32(3);
    const split = { x: Float32Array.from({ length: 32 * 784 }, () => random()), xShape: [32, 28, 28, 1], y: Int32Array.from({ length: 32 }, (_, i) => i % 10), yShape: [32] };
    return { train: split, test: split, description: "synthetic" };
  }
  async function trainedWeights(seed: number | undefined, threads = 1): Promise<Float32Array[]> {
    const learner = new TfjsLearner(dropoutModel(), digits(), "wasm", "synthetic", undefined, { seed });
    try {
      expect((await learner.useWasmThreads(threads)).threads).toBe(threads);
      await learner.train({ epochs: 2, batchSize: 8, validationSplit: 0 });
      return learner.getWeights().map((t) => t.data as Float32Array);
    } finally {
      await learner.close();
    }
  }

  it("draws the same dropout masks from the same seed (fit on this thread)", async () => {
    const [a, b, c] = [await trainedWeights(1), await trainedWeights(1), await trainedWeights(2)];
    expect(b).toEqual(a);
    expect(c).not.toEqual(a);
    // Unseeded, tfjs draws each mask from Math.random: two runs part ways.
    expect(await trainedWeights(undefined)).not.toEqual(await trainedWeights(undefined));
  });

  it("draws the same dropout masks from the same seed in the worker threads", async () => {
    const [a, b, c] = [await trainedWeights(1, 2), await trainedWeights(1, 2), await trainedWeights(2, 2)];
    expect(b).toEqual(a);
    expect(c).not.toEqual(a);
  }, 60_000);

  it("draws a new mask each step from a Dropout's own seed (Keras' Dropout(seed=...)), and keeps that seed in the model's config", async () => {
    async function run(): Promise<{ weights: Float32Array[]; seeds: number[]; after: unknown }> {
      const model = dropoutModel(42);
      const layer = model.layers[2] as unknown as { seed?: number };
      const seeds: number[] = [];
      const learner = new TfjsLearner(model, digits(), "wasm", "synthetic", () => seeds.push(layer.seed!), { shuffle: false });
      await learner.train({ epochs: 1, batchSize: 8, validationSplit: 0 });
      return { weights: learner.getWeights().map((t) => t.data as Float32Array), seeds, after: (model.layers[2]!.getConfig() as { seed?: unknown }).seed };
    }
    const [a, b] = [await run(), await run()];
    // tfjs alone would draw all 4 batches' masks from seed 42: one mask.
    expect(new Set(a.seeds).size).toBe(4);
    expect(a.seeds).not.toContain(42);
    expect(b.seeds).toEqual(a.seeds);
    expect(b.weights).toEqual(a.weights);
    expect(a.after).toBe(42);
  });
});
