import { beforeAll, describe, expect, it } from "vitest";
import { selectBackend } from "../backend.js";
import { tfl } from "../tfjs.js";
import { compileFromTrainingConfig } from "./build.js";

/** A tiny model with a logits head, as an interpreted subclassed model's graph is. */
function logitsModel() {
  const input = tfl.input({ shape: [4] });
  return tfl.model({ inputs: input, outputs: tfl.layers.dense({ units: 3 }).apply(input) as tfl.SymbolicTensor });
}

// The training_config tf.keras 2.4 saved for the seed guide's subclassed model.
const guide = {
  loss: { class_name: "SparseCategoricalCrossentropy", config: { reduction: "auto", name: "sparse_categorical_crossentropy", from_logits: true } },
  metrics: [{ class_name: "SparseCategoricalAccuracy", config: { name: "accuracy", dtype: "float32" } }],
  weighted_metrics: null,
  loss_weights: null,
  optimizer_config: { class_name: "Adam", config: { name: "Adam", learning_rate: 0.002, decay: 0.0, beta_1: 0.8, beta_2: 0.99, epsilon: 1e-7, amsgrad: false } },
};

describe("compileFromTrainingConfig", () => {
  beforeAll(async () => { await selectBackend("cpu"); });

  it("compiles from a tf.keras 2.4 training_config: the from-logits loss, the saved Adam, accuracy", () => {
    const model = logitsModel();
    compileFromTrainingConfig(model, guide, "2.4.0", {}, "dir/saved_model.pb");
    expect((model as unknown as { loss: { name: string } }).loss.name).toBe("categoricalCrossentropyFromLogits");
    expect(model.optimizer.getClassName()).toBe("Adam");
    expect((model.optimizer as unknown as { getConfig(): object }).getConfig()).toMatchObject({ learning_rate: 0.002, beta_1: 0.8, beta_2: 0.99 });
    expect(model.metricsNames).toEqual(["loss", "acc"]);
  });

  it("takes the optimizer defaults of the file's Keras generation", () => {
    const adadelta = { loss: "categorical_crossentropy", optimizer_config: { class_name: "Adadelta", config: {} } };
    const lrOf = (version: string) => {
      const model = logitsModel();
      compileFromTrainingConfig(model, adadelta, version, {}, "m.h5");
      return (model.optimizer as unknown as { learningRate: number }).learningRate;
    };
    expect(lrOf("2.2.4")).toBe(1.0); // standalone Keras 2.2
    expect(lrOf("2.4.0")).toBe(0.001); // tf.keras 2.4
  });

  it("leaves the model uncompiled when the spec brings its own options, or the file has none", () => {
    const ignored = logitsModel();
    compileFromTrainingConfig(ignored, guide, "2.4.0", { ignoreTrainingConfig: true }, "f");
    expect(ignored.optimizer).toBeUndefined();
    const none = logitsModel();
    compileFromTrainingConfig(none, undefined, undefined, {}, "f");
    expect(none.optimizer).toBeUndefined();
  });

  it("names the file and training_config when the saved config cannot be used", () => {
    const bad = { ...guide, loss: { class_name: "FocalCrossentropy", config: { name: "focal_crossentropy", from_logits: true } } };
    expect(() => compileFromTrainingConfig(logitsModel(), bad, "2.4.0", {}, "dir/saved_model.pb"))
      .toThrow(/dir\/saved_model\.pb: training_config: .*focal_crossentropy.*; set compile_model_options in the spec instead/);
  });
});
