import { existsSync, readdirSync } from "node:fs";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { selectBackend } from "../backend.js";
import { readNpyFile, relativeError, repoRoot } from "../keras/fixture-support.js";
import { tf } from "../tfjs.js";
import { loadModelFromSpec } from "../model-spec.js";
import { getWeights, modelManifest, setWeights } from "../weights.js";
import { loadGraphSavedModel } from "./graph-savedmodel.js";
import { loadKerasSavedModel } from "./keras-savedmodel.js";

const TOLERANCE = 1e-5;
const corpus = path.join(repoRoot, "packages/models/test-fixtures/savedmodel");
const names = readdirSync(corpus).filter((n) => existsSync(path.join(corpus, n, "saved_model.pb")));

describe("SavedModels without a Keras config predict like TensorFlow (cpu backend)", () => {
  beforeAll(async () => { await selectBackend("cpu"); });

  it("the corpus is there", () => expect(names.length).toBeGreaterThanOrEqual(3));

  for (const name of names) {
    it(name, async () => {
      const model = await loadKerasSavedModel(path.join(corpus, name));
      const err = relativeError(model, path.join(corpus, name));
      console.log(`savedmodel/${name}: ${model.weights.map((w) => w.name).join(", ")}; max rel error ${err.toExponential(2)}`);
      expect(err).toBeLessThanOrEqual(TOLERANCE);
    });

    it(`${name}: one SGD step moves the outputs as TensorFlow's step does`, async () => {
      const dir = path.join(corpus, name);
      const model = await loadKerasSavedModel(dir);
      const x = readNpyFile(path.join(dir, "input.npy"));
      const probe = readNpyFile(path.join(dir, "sgd_probe.npy"));
      const before = model.predict(x) as tf.Tensor;
      const optimizer = tf.train.sgd(0.1);
      const trainable = model.trainableWeights.map((w) => w.read() as tf.Variable);
      optimizer.minimize(() => tf.sum(tf.mul(model.apply(x) as tf.Tensor, probe)) as tf.Scalar, false, trainable);
      const after = model.predict(x) as tf.Tensor;
      const expected = readNpyFile(path.join(dir, "sgd_expected.npy"));
      const scale = tf.max(tf.abs(expected)).dataSync()[0]!;
      const err = tf.max(tf.abs(tf.sub(after, expected))).dataSync()[0]! / scale;
      const moved = tf.max(tf.abs(tf.sub(after, before))).dataSync()[0]! / scale;
      console.log(`savedmodel/${name} after one SGD step: outputs moved ${moved.toExponential(2)}, max rel error vs TensorFlow ${err.toExponential(2)}`);
      expect(moved).toBeGreaterThan(100 * err);
      expect(err).toBeLessThanOrEqual(1e-4);
    });
  }
});

describe("a TF 2.1-2.4 layout SavedModel (Keras config in the object graph, no keras_metadata.pb)", () => {
  beforeAll(async () => { await selectBackend("cpu"); });

  it("is rebuilt from that config as Keras layers, compiled from its training_config", async () => {
    const dir = path.join(corpus, "tf24-layout-mlp");
    expect(existsSync(path.join(dir, "keras_metadata.pb"))).toBe(false);
    const model = await loadKerasSavedModel(dir);
    expect(model.layers.map((l) => l.getClassName())).toEqual(["InputLayer", "Flatten", "Dense", "Dense"]);
    expect(model.optimizer).toBeDefined();
    expect(relativeError(model, dir)).toBeLessThanOrEqual(TOLERANCE);
  });
});

describe("a SavedModel without a Keras config through a model spec", () => {
  beforeAll(async () => { await selectBackend("cpu"); });

  it("loads as TensorFlowFLModel, compiled from compile_model_options, its manifest the SavedModel's variables", async () => {
    const section = { name: "TensorFlowFLModel", spec: { model_definition: "tf-module", compile_model_options: { optimizer: "sgd", loss: "categorical_crossentropy", metrics: ["accuracy"] } }, specBaseDir: corpus };
    const model = await loadModelFromSpec(section);
    expect(modelManifest(model).tensors.map((t) => `${t.name} [${t.shape}]`)).toEqual([
      "001.SavedModelGraph/conv_w [3,3,1,6]", "001.SavedModelGraph/conv_b [6]", "001.SavedModelGraph/dense_w [1014,10]", "001.SavedModelGraph/dense_b [10]",
    ]);
    expect(relativeError(model, path.join(corpus, "tf-module"))).toBeLessThanOrEqual(TOLERANCE);
    // Weights go in and out by those names, as a federation round does.
    const weights = getWeights(model);
    const twin = await loadModelFromSpec(section);
    setWeights(twin, weights.map((w) => ({ ...w, data: Float32Array.from(w.data as Float32Array, (v) => v * 0.5) })));
    expect(Array.from(getWeights(twin)[1]!.data as Float32Array)).toEqual(Array.from(weights[1]!.data as Float32Array, (v) => Math.fround(v * 0.5)));
  });

  it("keeps non-trainable variables (batch norm statistics) out of training but in the manifest", async () => {
    const model = loadGraphSavedModel(path.join(corpus, "keras3-export"));
    expect(model.trainableWeights).toHaveLength(9);
    expect(modelManifest(model).tensors.slice(9).map((t) => t.name)).toEqual([
      "001.SavedModelGraph/stem_bn/moving_mean", "001.SavedModelGraph/stem_bn/moving_variance", "001.SavedModelGraph/res_bn/moving_mean", "001.SavedModelGraph/res_bn/moving_variance",
    ]);
  });

  it("refuses an op outside the allow-list, naming the op and the function", async () => {
    const dir = path.join(repoRoot, "packages/models/test-fixtures/savedmodel-refused");
    await expect(loadModelFromSpec({ name: "TensorFlowFLModel", spec: { model_definition: "unsupported-op" }, specBaseDir: dir }, { inferenceOnly: true }))
      .rejects.toThrow(/unsupported-op[/\\]saved_model\.pb: function __inference___call___\d+: op Lgamma \(node Lgamma\) is not supported/);
  });

  it("asks for compile options when the SavedModel carries no training config", async () => {
    await expect(loadModelFromSpec({ name: "TensorFlowFLModel", spec: { model_definition: "tf-module" }, specBaseDir: corpus }))
      .rejects.toThrow(/not compiled; add compile_model_options/);
  });
});

describe("a tf.keras 2.1-2.4 subclassed model compiles from the training_config in its root metadata", () => {
  beforeAll(async () => { await selectBackend("cpu"); });
  const dir = path.join(corpus, "guide-subclassed");

  it("the guide's model: SparseCategoricalCrossentropy(from_logits=True) on the logits, Adam as saved, accuracy", async () => {
    const model = await loadKerasSavedModel(dir);
    const optimizer = model.optimizer as unknown as { getClassName(): string; getConfig(): Record<string, unknown> };
    expect(optimizer.getClassName()).toBe("Adam");
    expect(optimizer.getConfig()).toMatchObject({ learning_rate: 0.001, beta_1: 0.9, beta_2: 0.999, epsilon: 1e-7 });
    const compiled = model as unknown as { loss: (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Tensor; metricsNames: string[] };
    expect(compiled.loss.name).toBe("categoricalCrossentropyFromLogits");
    expect(compiled.metricsNames).toEqual(["loss", "acc"]);
    // Keras' own value of that loss on labels 0..3 for input.npy (one-hot here, as the learner
    // feeds a loss named "categorical").
    const x = readNpyFile(path.join(dir, "input.npy"));
    const y = tf.oneHot(tf.tensor1d([0, 1, 2, 3], "int32"), 10);
    const keras = readNpyFile(path.join(dir, "loss_expected.npy")).dataSync()[0]!;
    expect(Math.abs(compiled.loss(y, model.predict(x) as tf.Tensor).dataSync()[0]! - keras)).toBeLessThanOrEqual(1e-5 * keras);

    // A few batches of the digits' shape lower the loss it was compiled with.
    const first = (await model.fit(x, y, { epochs: 1, verbose: 0 })).history.loss[0] as number;
    const later = (await model.fit(x, y, { epochs: 5, verbose: 0 })).history.loss.at(-1) as number;
    console.log(`guide-subclassed: saved training_config, loss ${first.toFixed(4)} -> ${later.toFixed(4)} after 6 Adam steps`);
    expect(later).toBeLessThan(first - 0.05);
  });

  it("the spec's compile options still override the saved ones", async () => {
    const model = await loadModelFromSpec({
      name: "TensorFlowFLModel",
      spec: { model_definition: "guide-subclassed", compile_model_options: { optimizer: "sgd", lr: 0.05, loss: "mse", metrics: ["accuracy"] } },
      specBaseDir: corpus,
    });
    expect(model.optimizer.getClassName()).toBe("SGD");
    expect((model as unknown as { loss: string }).loss).toBe("meanSquaredError");
    expect((model.optimizer as unknown as { learningRate: number }).learningRate).toBe(0.05);
  });
});
