import { describe, expect, it } from "vitest";
import { kerasGeneration, kerasOptimizer } from "./keras.js";

describe("Keras optimizers: defaults by the file's Keras, saved configs", () => {
  it("gives Adadelta lr 1.0 for Keras 2.2.4 files and 0.001 for tf.keras and Keras 3 ones", () => {
    expect(kerasOptimizer("adadelta", { generation: kerasGeneration("2.2.4") }).getConfig()).toMatchObject({ learning_rate: 1, rho: 0.95, epsilon: 1e-7 });
    expect(kerasOptimizer("Adadelta", { generation: kerasGeneration("2.12.0") }).getConfig()).toMatchObject({ learning_rate: 0.001, rho: 0.95 });
    expect(kerasOptimizer("adagrad", { generation: "keras2" }).getConfig()).toMatchObject({ learning_rate: 0.01, initial_accumulator_value: 0 });
    expect(kerasOptimizer("adagrad", { generation: "keras3" }).getConfig()).toMatchObject({ learning_rate: 0.001, initial_accumulator_value: 0.1 });
    expect(kerasOptimizer("keras.optimizers.Adamax", { generation: "keras2" }).getConfig()).toMatchObject({ learning_rate: 0.002 });
    expect(kerasOptimizer("AdamW").getConfig()).toMatchObject({ learning_rate: 0.001, weight_decay: 0.004 });
  });

  it("reads a saved config (Keras 2's lr, Keras 3's learning_rate), the spec's lr over it", () => {
    expect(kerasOptimizer("SGD", { config: { lr: 0.05, momentum: 0.9, nesterov: true, decay: 0 } }).getConfig()).toMatchObject({ learning_rate: 0.05, momentum: 0.9, nesterov: true });
    expect(kerasOptimizer("RMSprop", { config: { learning_rate: 0.01, rho: 0.8 }, lr: 0.5 }).getConfig()).toMatchObject({ learning_rate: 0.5, rho: 0.8 });
  });

  it("refuses what it would otherwise ignore: EMA, schedules, unknown options", () => {
    expect(() => kerasOptimizer("Adam", { config: { use_ema: true } })).toThrow(/use_ema true is not supported/);
    expect(() => kerasOptimizer("Adam", { config: { learning_rate: { class_name: "ExponentialDecay" } } })).toThrow(/learning-rate schedules are not supported: set compile_model_options\.lr/);
    expect(() => kerasOptimizer("SGD", { config: { lookahead: 5 } })).toThrow(/SGD: option "lookahead" \(5\) is not supported/);
    expect(() => kerasOptimizer("SGD", { generation: "keras2", config: { clipnorm: 1 } })).toThrow(/clipnorm of Keras 2/);
    expect(() => kerasOptimizer("Lion")).toThrow(/unknown optimizer "Lion"; known: SGD, Adam/);
  });
});
