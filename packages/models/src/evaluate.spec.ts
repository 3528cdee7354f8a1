import { beforeAll, describe, expect, it, vi } from "vitest";
import { evaluateModel } from "./evaluate.js";
import { createMnistCnn } from "./mnist-cnn.js";
import { torchLoss } from "./pytorch/training.js";
import { useWasm } from "./test-support.js";
import { type LayersModel, type Tensor, tf, tfl } from "./tfjs.js";

const N = 37; // not a multiple of the batch size: the last batch is short

async function reference(model: LayersModel, x: Tensor, y: Tensor, batchSize: number): Promise<number[]> {
  const result = model.evaluate(x, y, { batchSize });
  const scalars = Array.isArray(result) ? result : [result];
  const values = await Promise.all(scalars.map(async (s) => (await s.data())[0]!));
  tf.dispose(scalars);
  return values;
}

function dense(units: number, activation: "softmax" | "sigmoid" | "linear", functional = false): LayersModel {
  if (!functional) return tfl.sequential({ layers: [tfl.layers.dense({ inputShape: [6], units: 8, activation: "relu" }), tfl.layers.dense({ units, activation })] });
  const input = tfl.input({ shape: [6] });
  const hidden = tfl.layers.dense({ units: 8, activation: "relu" }).apply(input) as tfl.SymbolicTensor;
  return tfl.model({ inputs: input, outputs: tfl.layers.dense({ units, activation }).apply(hidden) as tfl.SymbolicTensor });
}

const features = () => tf.randomUniform([N, 6], -1, 1, "float32", 3);
const classes = (k: number) => tf.tensor1d(Array.from({ length: N }, (_, i) => (i * 7) % k), "int32");

describe("evaluateModel gives model.evaluate's loss and metrics", () => {
  beforeAll(useWasm);

  const cases: [string, () => { model: LayersModel; x: Tensor; y: Tensor }][] = [
    ["Sequential CNN, categorical crossentropy + accuracy", () => {
      const model = createMnistCnn();
      return { model, x: tf.randomUniform([N, 28, 28, 1], 0, 1, "float32", 5), y: tf.oneHot(classes(10), 10) };
    }],
    ["sparse categorical crossentropy + accuracy on [n, 1] labels", () => {
      const model = dense(4, "softmax");
      model.compile({ optimizer: "sgd", loss: "sparseCategoricalCrossentropy", metrics: ["accuracy"] });
      return { model, x: features(), y: classes(4).reshape([N, 1]).toFloat() };
    }],
    ["binary crossentropy + accuracy (a sigmoid output)", () => {
      const model = dense(1, "sigmoid");
      model.compile({ optimizer: "sgd", loss: "binaryCrossentropy", metrics: ["accuracy"] });
      return { model, x: features(), y: classes(2).reshape([N, 1]).toFloat() };
    }],
    ["functional model, mean squared error + mae + mse", () => {
      const model = dense(3, "linear", true);
      model.compile({ optimizer: "sgd", loss: "meanSquaredError", metrics: ["mae", "mse"] });
      return { model, x: features(), y: tf.randomNormal([N, 3], 0, 1, "float32", 9) };
    }],
    ["PyTorch's CrossEntropyLoss (a loss function object), no metrics", () => {
      const model = dense(5, "linear");
      model.compile({ optimizer: "sgd", loss: torchLoss("nn.CrossEntropyLoss") });
      return { model, x: features(), y: tf.oneHot(classes(5), 5) };
    }],
  ];

  it.each(cases)("%s", async (_, make) => {
    const { model, x, y } = make();
    for (const batchSize of [8, 256]) {
      const expected = await reference(model, x, y, batchSize);
      const evaluate = vi.spyOn(model, "evaluate");
      const actual = await evaluateModel(model, x, y, batchSize);
      expect(evaluate).not.toHaveBeenCalled(); // the predict path, not the fallback
      evaluate.mockRestore();
      expect(actual).toHaveLength(model.metricsNames.length);
      actual.forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 5));
    }
  });

  it("takes model.evaluate for a model with two outputs, and frees every tensor it made", async () => {
    const input = tfl.input({ shape: [6] });
    const a = tfl.layers.dense({ units: 2, activation: "softmax" }).apply(input) as tfl.SymbolicTensor;
    const b = tfl.layers.dense({ units: 1 }).apply(input) as tfl.SymbolicTensor;
    const model = tfl.model({ inputs: input, outputs: [a, b] });
    model.compile({ optimizer: "sgd", loss: ["categoricalCrossentropy", "meanSquaredError"] });
    const x = features();
    const ys = [tf.oneHot(classes(2), 2), tf.randomNormal([N, 1], 0, 1, "float32", 1)];
    const expected = await reference(model, x, ys as unknown as Tensor, 16);
    const before = tf.memory().numTensors;
    const evaluate = vi.spyOn(model, "evaluate");
    expect(await evaluateModel(model, x, ys as unknown as Tensor, 16)).toEqual(expected);
    expect(evaluate).toHaveBeenCalledTimes(1);
    expect(tf.memory().numTensors).toBe(before);
  });

  it("frees every tensor it made on the predict path", async () => {
    const model = dense(4, "softmax");
    model.compile({ optimizer: "sgd", loss: "categoricalCrossentropy", metrics: ["accuracy"] });
    const x = features();
    const y = tf.oneHot(classes(4), 4);
    await evaluateModel(model, x, y, 8); // warm: the first predict creates lasting state
    const before = tf.memory().numTensors;
    await evaluateModel(model, x, y, 8);
    expect(tf.memory().numTensors).toBe(before);
  });
});
