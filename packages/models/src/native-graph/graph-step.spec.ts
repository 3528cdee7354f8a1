/**
 * The graph trainer's step on the tensorflow backend: its loss and gradients equal TF.js' own
 * (tf.variableGrads through the layers) for every supported layer kind and loss, real Keras files
 * included (fit-graph-epoch.spec.ts compares whole epochs with model.fit and Keras 3). Runs where a tfjs-node binding is built; CI requires it with
 * COHORT_EXPECT_TENSORFLOW=1.
 */
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { installedNativeBinding, selectBackend } from "../backend.js";
import { loadKerasModel } from "../keras-source.js";
import { relativeError } from "../optimizers/reference-cases.js";
import { type LayersModel, tf, tfl } from "../tfjs.js";
import { lcg, oneHot, step } from "./graph-test-support.js";

const native = installedNativeBinding();
/** Real model files written by Keras (../shared/fixtures beside the repository; never copied in). */
const sharedKeras = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../../../shared/fixtures/keras");
const FIXTURES = ["keras224-mnist-cnn/model.h5", "keras3-mnist-softmax/model.keras", "tf212-house-mlp/model.h5"];
const skipped = native ? "" : " (skipped: no tfjs-node binding is built here; `cohort backend install tensorflow` builds one)";

it.runIf(process.env.COHORT_EXPECT_TENSORFLOW === "1" && !native)("has a tfjs-node binding (COHORT_EXPECT_TENSORFLOW=1)", () => {
  expect.fail("no @tensorflow/tfjs-node(-gpu) binding is built: run cohort backend install tensorflow");
});

/** TF.js' loss (the compiled loss function, averaged) and gradients at the model's weights, layers in inference mode (`training`: training mode). */
function eager(model: LayersModel, x: tf.Tensor, y: tf.Tensor, training = false): { loss: number; grads: Float32Array[] } {
  const name = (model as unknown as { loss: string }).loss;
  const lossFn = { categoricalCrossentropy: tfl.metrics.categoricalCrossentropy, binaryCrossentropy: tfl.metrics.binaryCrossentropy, // tfjs-layers' sparse loss is this: one-hot of the (floored) class ids, then the categorical one.
    sparseCategoricalCrossentropy: (t: tf.Tensor, p: tf.Tensor) => tfl.metrics.categoricalCrossentropy(tf.oneHot(tf.cast(tf.reshape(t, [-1]), "int32"), p.shape[1]!), p), meanSquaredError: tfl.metrics.meanSquaredError }[name]!;
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const { value, grads } = tf.variableGrads(() => tf.mean(lossFn(y, model.apply(x, { training }) as tf.Tensor)) as tf.Scalar, vars);
  const out = { loss: value.dataSync()[0]!, grads: vars.map((v) => grads[v.name]!.dataSync() as Float32Array) };
  tf.dispose([value, ...Object.values(grads)]);
  return out;
}

/** `graphY`: the labels as the graph gets them, when not as tfjs' loss takes them (a [batch] column). */
function compareWithEager(model: LayersModel, x: tf.Tensor, y: tf.Tensor, graphY = y): void {
  const s = step(model);
  try {
    const expected = eager(model, x, y);
    const got = s.run(x, graphY, Array.from({ length: s.dropouts }, (_, k): [number, number] => [1, k]));
    if (s.accuracy) {
      // tfjs-layers' own accuracy metric for this loss and output (binary, sparse or categorical).
      const acc = (model.evaluate(x, y) as tf.Scalar[])[1]!.dataSync()[0]!;
      expect(got.correct!.dataSync()[0]! / x.shape[0]!, "accuracy").toBeCloseTo(acc, 6);
    }
    expect(Math.abs(got.loss.dataSync()[0]! - expected.loss) / expected.loss, "loss").toBeLessThan(1e-5);
    expect(got.grads.length).toBe(model.trainableWeights.length);
    got.grads.forEach((g, k) => {
      expect(g.shape, `gradient ${k}`).toEqual(model.trainableWeights[k]!.shape);
      expect(relativeError(g.dataSync(), expected.grads[k]!), `gradient ${k} (${model.trainableWeights[k]!.name})`).toBeLessThan(1e-5);
    });
    tf.dispose([got.loss, ...(got.correct ? [got.correct] : []), ...got.grads]);
  } finally {
    s.dispose();
  }
}

describe.skipIf(!native)(`graph training on the tensorflow backend${skipped}`, () => {
  beforeAll(async () => {
    const chosen = await selectBackend("tensorflow");
    expect(chosen.name).toBe("tensorflow");
  });

  it("conv (valid, same, strides 2) + max/avg pools + flatten + dense, relu/tanh/sigmoid/softmax, categorical cross-entropy: loss, gradients and accuracy count as TF.js'", () => {
    const model = tfl.sequential({
      layers: [
        tfl.layers.conv2d({ inputShape: [11, 11, 2], filters: 4, kernelSize: 3, activation: "relu" }),
        tfl.layers.conv2d({ filters: 5, kernelSize: [3, 2], strides: 2, padding: "same", activation: "tanh" }),
        tfl.layers.maxPooling2d({ poolSize: 2, padding: "same" }),
        tfl.layers.averagePooling2d({ poolSize: 2, strides: 1 }),
        tfl.layers.flatten(),
        tfl.layers.dropout({ rate: 0 }),
        tfl.layers.dense({ units: 6, activation: "sigmoid" }),
        tfl.layers.dense({ units: 4, activation: "softmax" }),
      ],
    });
    model.compile({ optimizer: "sgd", loss: "categoricalCrossentropy", metrics: ["accuracy"] });
    // Two batch sizes through one session: shapes come from Shape ops, not from the first batch.
    for (const n of [7, 3]) {
      const [x, y] = [tf.tensor4d(lcg(n * 11 * 11 * 2, n), [n, 11, 11, 2]), oneHot(n, 4)];
      compareWithEager(model, x, y);
      const s = step(model);
      const got = s.run(x, y, [[1, 0]]);
      const hits = tf.tidy(() => tf.sum(tf.cast(tf.equal(tf.argMax(model.predict(x) as tf.Tensor, -1), tf.argMax(y, -1)), "float32")).dataSync()[0]);
      expect(got.correct!.dataSync()[0]).toBe(hits);
      s.dispose();
      tf.dispose([x, y, got.loss, got.correct!, ...got.grads]);
    }
  });

  it("DepthwiseConv2D (depth multiplier 2, strides 2, same) and SeparableConv2D, with and without bias", () => {
    const model = tfl.sequential({
      layers: [
        tfl.layers.conv2d({ inputShape: [9, 9, 2], filters: 3, kernelSize: 2, activation: "relu" }),
        tfl.layers.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, strides: 2, padding: "same", activation: "tanh" }),
        tfl.layers.separableConv2d({ filters: 4, kernelSize: 2, depthMultiplier: 2, activation: "relu" }),
        tfl.layers.separableConv2d({ filters: 2, kernelSize: 2, useBias: false }),
        tfl.layers.flatten(),
        tfl.layers.dense({ units: 3, activation: "softmax" }),
      ],
    });
    model.compile({ optimizer: "sgd", loss: "categoricalCrossentropy" });
    const x = tf.tensor4d(lcg(4 * 9 * 9 * 2, 19), [4, 9, 9, 2]);
    const y = oneHot(4, 3);
    compareWithEager(model, x, y);
    tf.dispose([x, y]);
  });

  it("Embedding (repeated ids) with global average and global max pooling over the steps", () => {
    for (const pool of [tfl.layers.globalAveragePooling1d({}), tfl.layers.globalMaxPooling1d({})]) {
      const model = tfl.sequential({
        layers: [
          tfl.layers.embedding({ inputDim: 12, outputDim: 5, inputLength: 7 }),
          pool,
          tfl.layers.dense({ units: 6, activation: "relu" }),
          tfl.layers.dense({ units: 3, activation: "softmax" }),
        ],
      });
      model.compile({ optimizer: "sgd", loss: "categoricalCrossentropy" });
      // Ids 0-11 as floats, each row repeating some: the table's gradient must add them up.
      const x = tf.tensor2d(Array.from({ length: 4 * 7 }, (_, i) => (i * 5) % 12), [4, 7]);
      const y = oneHot(4, 3);
      compareWithEager(model, x, y);
      tf.dispose([x, y]);
    }
  });

  it("a text CNN: Embedding, Conv1D (strides 2, same; valid), a Dense per step, MaxPooling1D, AveragePooling1D, GlobalMaxPooling1D", () => {
    const model = tfl.sequential({
      layers: [
        tfl.layers.embedding({ inputDim: 15, outputDim: 4, inputLength: 12 }),
        tfl.layers.conv1d({ filters: 5, kernelSize: 3, strides: 2, padding: "same", activation: "relu" }),
        tfl.layers.conv1d({ filters: 6, kernelSize: 2, activation: "tanh" }),
        // A Dense on each step of the sequence ([batch, steps, 6] -> [batch, steps, 7]).
        tfl.layers.dense({ units: 7, activation: "relu" }),
        tfl.layers.maxPooling1d({ poolSize: 2 }),
        tfl.layers.averagePooling1d({ poolSize: 2, strides: 1, padding: "same" }),
        tfl.layers.globalMaxPooling1d({}),
        tfl.layers.dense({ units: 3, activation: "softmax" }),
      ],
    });
    model.compile({ optimizer: "sgd", loss: "categoricalCrossentropy" });
    const x = tf.tensor2d(Array.from({ length: 5 * 12 }, (_, i) => (i * 7) % 15), [5, 12]);
    const y = oneHot(5, 3);
    compareWithEager(model, x, y);
    tf.dispose([x, y]);
  });

  it("Reshape and ZeroPadding2D (uneven pads) before a conv", () => {
    const model = tfl.sequential({
      layers: [
        tfl.layers.dense({ inputShape: [6], units: 32, activation: "tanh" }),
        tfl.layers.reshape({ targetShape: [4, 4, 2] }),
        tfl.layers.zeroPadding2d({ padding: [[1, 2], [0, 3]] }),
        tfl.layers.conv2d({ filters: 3, kernelSize: 2, activation: "relu" }),
        tfl.layers.flatten(),
        tfl.layers.dense({ units: 4, activation: "softmax" }),
      ],
    });
    model.compile({ optimizer: "sgd", loss: "categoricalCrossentropy" });
    const x = tf.tensor2d(lcg(5 * 6, 17), [5, 6]);
    const y = oneHot(5, 4);
    compareWithEager(model, x, y);
    tf.dispose([x, y]);
  });

  it("elu and selu, global average and global max pooling", () => {
    for (const global of [tfl.layers.globalAveragePooling2d({}), tfl.layers.globalMaxPooling2d({})]) {
      const model = tfl.sequential({
        layers: [
          tfl.layers.conv2d({ inputShape: [7, 6, 2], filters: 4, kernelSize: 3, activation: "elu" }),
          global,
          tfl.layers.dense({ units: 5, activation: "selu" }),
          tfl.layers.dense({ units: 3, activation: "softmax" }),
        ],
      });
      model.compile({ optimizer: "sgd", loss: "categoricalCrossentropy", metrics: ["accuracy"] });
      // Inputs around zero, so elu and selu see both signs.
      const x = tf.tidy(() => tf.sub(tf.tensor4d(lcg(5 * 7 * 6 * 2, 13), [5, 7, 6, 2]), 0.5));
      const y = oneHot(5, 3);
      compareWithEager(model, x, y);
      tf.dispose([x, y]);
    }
  });

  it("BatchNormalization (4-D and 2-D): batch statistics, gradients and moving statistics as tfjs' training mode", () => {
    const model = tfl.sequential({
      layers: [
        // No bias before a normalization: its gradient is zero up to rounding (no relative scale to compare).
        tfl.layers.conv2d({ inputShape: [6, 6, 2], filters: 3, kernelSize: 3, useBias: false }),
        tfl.layers.batchNormalization({ momentum: 0.9 }),
        tfl.layers.activation({ activation: "relu" }),
        tfl.layers.flatten(),
        tfl.layers.dense({ units: 5, useBias: false }),
        tfl.layers.batchNormalization({ epsilon: 0.01 }),
        tfl.layers.dense({ units: 3, activation: "softmax" }),
      ],
    });
    model.compile({ optimizer: "sgd", loss: "categoricalCrossentropy" });
    // Statistics away from their initial 0 and 1, so that the moving update shows.
    const x = tf.tidy(() => tf.add(tf.mul(tf.tensor4d(lcg(7 * 6 * 6 * 2, 21), [7, 6, 6, 2]), 3), 1));
    const y = oneHot(7, 3);
    const moving = () => model.nonTrainableWeights.map((w) => Array.from(w.read().dataSync()));
    const before = moving();
    const expected = eager(model, x, y, true);
    const movedByTfjs = moving();
    model.nonTrainableWeights.forEach((w, k) => w.write(tf.tensor(before[k]!, w.shape as number[])));
    const s = step(model);
    const got = s.run(x, y, []);
    expect(Math.abs(got.loss.dataSync()[0]! - expected.loss) / expected.loss, "loss").toBeLessThan(1e-5);
    got.grads.forEach((g, k) => expect(relativeError(g.dataSync(), expected.grads[k]!), `gradient ${k} (${model.trainableWeights[k]!.name})`).toBeLessThan(1e-5));
    const movedByGraph = moving();
    movedByGraph.forEach((m, k) => {
      expect(m, `moving statistic ${k} moved`).not.toEqual(before[k]);
      expect(relativeError(m, movedByTfjs[k]!), `moving statistic ${k}`).toBeLessThan(1e-5);
    });
    s.dispose();
    tf.dispose([x, y, got.loss, ...got.grads]);
  });

  it("dense chain with Activation, LeakyReLU and ReLU(6) layers and a bias-free layer, sparse categorical cross-entropy (class ids as floats)", () => {
    const model = tfl.sequential({
      layers: [
        tfl.layers.dense({ inputShape: [5], units: 8 }),
        tfl.layers.reLU({ maxValue: 6 }),
        tfl.layers.dense({ units: 7, activation: "tanh" }),
        tfl.layers.leakyReLU({ alpha: 0.2 }),
        tfl.layers.dense({ units: 7 }),
        tfl.layers.activation({ activation: "relu" }),
        tfl.layers.dense({ units: 6, useBias: false, activation: "linear" }),
        tfl.layers.dense({ units: 3, activation: "softmax" }),
      ],
    });
    model.compile({ optimizer: "sgd", loss: "sparseCategoricalCrossentropy", metrics: ["accuracy"] });
    // Inputs in [-10, 10): the first layer's outputs fall below 0 and above ReLU(6)'s cap.
    const x = tf.tidy(() => tf.mul(tf.sub(tf.tensor2d(lcg(9 * 5, 3), [9, 5]), 0.5), 20));
    const capped = tf.tidy(() => (model.layers[0]!.apply(x) as tf.Tensor).dataSync());
    expect(capped.some((v) => v > 6) && capped.some((v) => v < 0)).toBe(true);
    const y = tf.tensor1d(Array.from({ length: 9 }, (_, i) => i % 3), "float32");
    compareWithEager(model, x, y);
    tf.dispose([x, y]);
  });

  it("mean squared error on a linear and on a sigmoid output", () => {
    for (const activation of ["linear", "sigmoid"] as const) {
      const model = tfl.sequential({
        layers: [
          tfl.layers.dense({ inputShape: [4], units: 6, activation: "relu" }),
          tfl.layers.dense({ units: 2, activation }),
        ],
      });
      model.compile({ optimizer: "sgd", loss: "meanSquaredError", metrics: ["accuracy"] });
      const x = tf.tensor2d(lcg(8 * 4, 5), [8, 4]);
      const y = tf.tensor2d(lcg(8 * 2, 6), [8, 2]);
      compareWithEager(model, x, y);
      tf.dispose([x, y]);
    }
  });

  it("binary cross-entropy from a sigmoid's logits: one unit with a [batch] label column, and three independent units", () => {
    for (const units of [1, 3]) {
      const model = tfl.sequential({
        layers: [
          tfl.layers.dense({ inputShape: [4], units: 6, activation: "relu" }),
          tfl.layers.dense({ units, activation: "sigmoid" }),
        ],
      });
      model.compile({ optimizer: "sgd", loss: "binaryCrossentropy", metrics: ["accuracy"] });
      const x = tf.tensor2d(lcg(10 * 4, 8), [10, 4]);
      const labels = Array.from({ length: 10 * units }, (_, i) => (i * 5) % 3 === 0 ? 1 : 0);
      const y = tf.tensor2d(labels, [10, units]);
      const column = units === 1 ? tf.tensor1d(labels) : y;
      compareWithEager(model, x, y, column);
      tf.dispose([x, y, column]);
    }
  });

  for (const rel of FIXTURES) {
    const file = path.join(sharedKeras, rel);
    it.skipIf(!existsSync(file))(`a real Keras file, ${rel}, trains through the graph with tfjs' loss and gradients${existsSync(file) ? "" : ` (skipped: ${file} is absent; the shared fixtures live only beside the repository)`}`, async () => {
      const model = await loadKerasModel(file);
      const shape = model.inputs[0]!.shape.slice(1) as number[];
      const n = 6;
      // Inputs in [0, 0.1): a trained classifier stays unsure of noise, so no probability falls
      // under 1e-7, where tfjs clips it (its loss and gradient then differ from the logits' ones,
      // which the graph computes as Keras 3 does).
      const x = tf.tidy(() => tf.mul(tf.tensor(lcg(n * shape.reduce((a, b) => a * b, 1), 4), [n, ...shape]), 0.1));
      const units = model.outputs[0]!.shape[1] as number;
      // Sparse files get class ids, the regression file values of its output's size.
      const y = (model as unknown as { loss: string }).loss === "sparseCategoricalCrossentropy"
        ? tf.tensor1d(Array.from({ length: n }, (_, i) => i % units), "float32")
        : tf.tensor2d(lcg(n * units, 5), [n, units]);
      compareWithEager(model, x, y);
      tf.dispose([x, y]);
    });
  }

  it("dropout: the same seeds draw the same masks, other seeds others, and a mask scales kept units by 1 / (1 - rate)", () => {
    const model = tfl.sequential({ layers: [tfl.layers.dropout({ inputShape: [400], rate: 0.5 }), tfl.layers.dense({ units: 1, useBias: false })] });
    model.compile({ optimizer: "sgd", loss: "meanSquaredError" });
    const s = step(model);
    const x = tf.ones([1, 400]);
    const y = tf.zeros([1, 1]);
    // d loss / d kernel = x_masked * 2 (out - y): proportional to the masked input.
    const kernelGrad = (seed: number) => { const r = s.run(x, y, [[seed, 0]]); const g = Array.from(r.grads[0]!.dataSync()); tf.dispose([r.loss, ...r.grads]); return g; };
    const [a, b, c] = [kernelGrad(11), kernelGrad(11), kernelGrad(12)];
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    const kept = a.filter((v) => v !== 0);
    expect(kept.length).toBeGreaterThan(150);
    expect(kept.length).toBeLessThan(250);
    // Every kept unit's gradient is the same: 2 * out * 2 (the mask's 1 / (1 - 0.5)).
    const out = tf.tidy(() => tf.sum(tf.mul(model.trainableWeights[0]!.read().reshape([400]), tf.tensor1d(a.map((v) => (v !== 0 ? 2 : 0))))).dataSync()[0]!);
    for (const v of kept) expect(v).toBeCloseTo(2 * out * 2, 4);
    s.dispose();
    tf.dispose([x, y]);
  });
});
