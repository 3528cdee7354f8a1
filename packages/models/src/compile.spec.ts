import { beforeAll, describe, expect, it } from "vitest";
import { compileFromOptions, getLearningRate, setLearningRate } from "./compile.js";
import { tinyCnn, useWasm } from "./test-support.js";
import { tf } from "./tfjs.js";
import { getWeights } from "./weights.js";

const x = () => tf.randomUniform([6, 8, 8, 1], 0, 1, "float32", 11);

describe("compileFromOptions", () => {
  beforeAll(useWasm);

  it.each(["adam", "SGD", "optim.RMSprop", "adagrad", "adadelta", "keras.optimizers.Adamax"])("maps optimizer %s", async (name) => {
    const model = compileFromOptions(tinyCnn(), { optimizer: name, loss: "categorical_crossentropy", metrics: ["accuracy"] });
    const y = tf.oneHot(tf.tensor1d([0, 1, 2, 3, 0, 1], "int32"), 4);
    const history = await model.fit(x(), y, { epochs: 1, verbose: 0 });
    expect(Number.isFinite(history.history.loss[0] as number)).toBe(true);
    expect(history.history.acc).toBeDefined();
  });

  it("trains with sparse_categorical_crossentropy on integer labels, with sparse accuracy", async () => {
    const model = compileFromOptions(tinyCnn(), { optimizer: "adam", lr: 0.01, loss: "sparse_categorical_crossentropy", metrics: ["acc"] });
    const labels = tf.tensor2d([0, 1, 2, 3, 0, 1], [6, 1]);
    const history = await model.fit(x(), labels, { epochs: 3, verbose: 0 });
    const losses = history.history.loss as number[];
    expect(losses[2]).toBeLessThan(losses[0]);
    const acc = history.history.acc as number[];
    expect(acc[2]).toBeGreaterThanOrEqual(0);
    expect(acc[2]).toBeLessThanOrEqual(1);
  });

  it.each([["mse", "meanSquaredError"], ["mean_squared_error", "meanSquaredError"], ["mae", "meanAbsoluteError"], ["binary_crossentropy", "binaryCrossentropy"]])(
    "maps loss %s", (name, expected) => {
      const model = compileFromOptions(tinyCnn(), { optimizer: "sgd", loss: name });
      expect(model.loss).toBe(expected);
    });

  // Each name was "Unknown metric" in tfjs-layers before: the table now hands it what it knows.
  it.each([["mse", "mse"], ["mean_squared_error", "mse"], ["mae", "mae"], ["mean_absolute_error", "mae"], ["sparse_categorical_accuracy", "sparseCategoricalAccuracy"]])(
    "metric %s trains and is reported as %s", async (name, key) => {
      const model = compileFromOptions(tinyCnn(), { optimizer: "adam", loss: "sparse_categorical_crossentropy", metrics: [name] });
      const history = await model.fit(x(), tf.tensor2d([0, 1, 2, 3, 0, 1], [6, 1]), { epochs: 1, verbose: 0 });
      expect(Number.isFinite(history.history[key]?.[0] as number)).toBe(true);
    });

  it("rejects unknown names, listing the known ones", () => {
    expect(() => compileFromOptions(tinyCnn(), { optimizer: "lion", loss: "mse" })).toThrowError(/unknown optimizer "lion"; known: SGD, Adam, RMSprop/);
    expect(() => compileFromOptions(tinyCnn(), { optimizer: "adam", loss: "focal" })).toThrowError(/unknown loss "focal"/);
  });
});

describe("setLearningRate", () => {
  beforeAll(useWasm);

  it.each(["adam", "sgd", "rmsprop"])("%s: rate 0 freezes the weights, then a positive rate trains again", async (name) => {
    const model = compileFromOptions(tinyCnn(), { optimizer: name, lr: 0.01, loss: "categorical_crossentropy" });
    const xs = x();
    const ys = tf.oneHot(tf.tensor1d([0, 1, 2, 3, 0, 1], "int32"), 4);
    await model.trainOnBatch(xs, ys); // creates optimizer state (Adam moments) that must survive
    setLearningRate(model, 0);
    expect(getLearningRate(model)).toBe(0);
    const before = getWeights(model);
    await model.trainOnBatch(xs, ys);
    expect(getWeights(model)).toEqual(before);
    setLearningRate(model, 0.01);
    await model.trainOnBatch(xs, ys);
    // Compared as a whole: a large first step can leave every ReLU of the conv dead (zero kernel gradient).
    expect(getWeights(model)).not.toEqual(before);
  });

  it("needs a compiled model", () => {
    expect(() => setLearningRate(tinyCnn(), 0.1)).toThrowError(/not compiled/);
  });
});
