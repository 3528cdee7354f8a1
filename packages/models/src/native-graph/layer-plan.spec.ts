import { beforeAll, describe, expect, it } from "vitest";
import { createKerasMnistCnn } from "../mnist-cnn.js";
import { useWasm } from "../test-support.js";
import { type LayersModel, tf, tfl } from "../tfjs.js";
import { GraphTrainingStep } from "./graph-step.js";
import { planLayers } from "./layer-plan.js";

beforeAll(useWasm);

function compiled(layers: tfl.layers.Layer[], loss: string | ((a: tf.Tensor, b: tf.Tensor) => tf.Tensor) = "categoricalCrossentropy"): LayersModel {
  const model = tfl.sequential({ layers });
  model.compile({ optimizer: "sgd", loss });
  return model;
}

describe("planLayers", () => {
  it("plans the seed CNN as conv, conv, pool, dropout, flatten, dense, dropout, dense with its weights in trainableWeights order", () => {
    const plan = planLayers(createKerasMnistCnn());
    if (typeof plan === "string") throw new Error(plan);
    expect(plan.steps.map((s) => s.kind)).toEqual(["conv2d", "conv2d", "pool", "dropout", "flatten", "dense", "dropout", "dense"]);
    expect(plan.steps[0]).toMatchObject({ kernel: 0, bias: 1, activation: "relu", kernelShape: [3, 3, 1, 32], strides: [1, 1], padding: "VALID" });
    expect(plan.steps[7]).toMatchObject({ kernel: 6, bias: 7, activation: "softmax" });
    expect(plan.steps[4]).toEqual({ kind: "flatten", units: 9216 });
    expect([plan.loss, plan.accuracy, plan.dropouts, plan.inputShape]).toEqual(["categorical", true, 2, [28, 28, 1]]);
  });

  it.each<[string, () => LayersModel, RegExp]>([
    ["an uncompiled model", () => tfl.sequential({ layers: [tfl.layers.dense({ inputShape: [3], units: 2 })] }), /not compiled/],
    ["a frozen layer", () => {
      const frozen = tfl.layers.dense({ units: 4 });
      const m = compiled([tfl.layers.dense({ inputShape: [3], units: 4 }), frozen, tfl.layers.dense({ units: 2, activation: "softmax" })]);
      frozen.trainable = false;
      return m;
    }, /non-trainable weights|frozen/],
    ["BatchNormalization over channels first", () => compiled([tfl.layers.conv2d({ inputShape: [4, 4, 2], filters: 2, kernelSize: 3 }), tfl.layers.batchNormalization({ axis: 1 }), tfl.layers.flatten(), tfl.layers.dense({ units: 2, activation: "softmax" })]), /normalizes axis 1/],
    ["BatchNormalization without scale", () => compiled([tfl.layers.dense({ inputShape: [3], units: 4 }), tfl.layers.batchNormalization({ scale: false }), tfl.layers.dense({ units: 2, activation: "softmax" })]), /has no scale/],
    ["an LSTM", () => compiled([tfl.layers.lstm({ inputShape: [5, 3], units: 4 }), tfl.layers.dense({ units: 2, activation: "softmax" })]), /is a LSTM/],
    ["a kernel regularizer", () => compiled([tfl.layers.dense({ inputShape: [3], units: 2, activation: "softmax", kernelRegularizer: tfl.regularizers.l2() })]), /kernelRegularizer/],
    ["a kernel constraint", () => compiled([tfl.layers.dense({ inputShape: [3], units: 2, activation: "softmax", kernelConstraint: tfl.constraints.maxNorm({}) })]), /kernelConstraint/],
    ["a custom loss", () => compiled([tfl.layers.dense({ inputShape: [3], units: 2 })], (a, b) => tf.sub(a, b)), /custom function/],
    ["a hinge loss", () => compiled([tfl.layers.dense({ inputShape: [3], units: 1, activation: "tanh" })], "hinge"), /hinge is not one/],
    ["binary cross-entropy on a linear output", () => compiled([tfl.layers.dense({ inputShape: [3], units: 1 })], "binaryCrossentropy"), /binary cross-entropy without a sigmoid/],
    ["a metric other than accuracy", () => {
      const m = tfl.sequential({ layers: [tfl.layers.dense({ inputShape: [3], units: 1 })] });
      m.compile({ optimizer: "sgd", loss: "meanSquaredError", metrics: ["mae"] });
      return m;
    }, /metric mae is not one/],
    ["a dilated conv", () => compiled([tfl.layers.conv2d({ inputShape: [9, 9, 1], filters: 2, kernelSize: 3, dilationRate: 2 }), tfl.layers.flatten(), tfl.layers.dense({ units: 2, activation: "softmax" })]), /dilated/],
    ["softmax before the last layer", () => compiled([tfl.layers.dense({ inputShape: [3], units: 4, activation: "softmax" }), tfl.layers.dense({ units: 2, activation: "softmax" })]), /softmax activation before the last layer/],
    ["cross-entropy without softmax", () => compiled([tfl.layers.dense({ inputShape: [3], units: 2, activation: "sigmoid" })]), /without a softmax/],
    ["softplus", () => compiled([tfl.layers.dense({ inputShape: [3], units: 4, activation: "softplus" }), tfl.layers.dense({ units: 2, activation: "softmax" })]), /activation softplus/],
    ["softmax on a rank-3 output", () => compiled([tfl.layers.dense({ inputShape: [5, 3], units: 4, activation: "softmax" })]), /rank-3 output/],
    ["a branching functional model", () => {
      const input = tfl.input({ shape: [3] });
      const a = tfl.layers.dense({ units: 4 }).apply(input) as tfl.SymbolicTensor;
      const b = tfl.layers.dense({ units: 4 }).apply(input) as tfl.SymbolicTensor;
      const out = tfl.layers.dense({ units: 2, activation: "softmax" }).apply(tfl.layers.add().apply([a, b]) as tfl.SymbolicTensor) as tfl.SymbolicTensor;
      const m = tfl.model({ inputs: input, outputs: out });
      m.compile({ optimizer: "sgd", loss: "categoricalCrossentropy" });
      return m;
    }, /not fed by the layer before it|is a Add/],
  ])("says why it cannot plan %s", (_, make, why) => {
    expect(planLayers(make())).toMatch(why);
  });

  it("plans a functional chain (InputLayer first) like the same Sequential", () => {
    const input = tfl.input({ shape: [6] });
    const hidden = tfl.layers.dense({ units: 5, activation: "tanh" }).apply(input) as tfl.SymbolicTensor;
    const m = tfl.model({ inputs: input, outputs: tfl.layers.dense({ units: 1 }).apply(hidden) as tfl.SymbolicTensor });
    m.compile({ optimizer: "sgd", loss: "meanSquaredError" });
    const plan = planLayers(m);
    if (typeof plan === "string") throw new Error(plan);
    expect(plan.steps.map((s) => s.kind)).toEqual(["dense", "dense"]);
    expect(plan.loss).toBe("mse");
  });

  it("graph training needs the tensorflow backend, and COHORT_GRAPH_TRAINING=0 turns it off", () => {
    expect(GraphTrainingStep.create(createKerasMnistCnn())).toBe("the backend is wasm, not tensorflow");
    process.env.COHORT_GRAPH_TRAINING = "0";
    try {
      expect(GraphTrainingStep.create(createKerasMnistCnn())).toBe("COHORT_GRAPH_TRAINING=0");
    } finally {
      delete process.env.COHORT_GRAPH_TRAINING;
    }
  });
});
