import { beforeAll, describe, expect, it } from "vitest";
import { selectBackend } from "../backend.js";
import { getLearningRate, setLearningRate } from "../compile.js";
import { tf, tfl } from "../tfjs.js";
import { torchOptimizer } from "./torch.js";

beforeAll(async () => { await selectBackend("cpu"); });

/** y = w * x with one weight; its gradient under MSE is known in closed form. */
function scalarModel(w: number) {
  const model = tfl.sequential({ layers: [tfl.layers.dense({ units: 1, inputShape: [1], useBias: false, kernelInitializer: tfl.initializers.constant({ value: w }) })] });
  return model;
}
const weight = (model: ReturnType<typeof scalarModel>) => model.getWeights()[0]!.dataSync()[0]!;

describe("RuleOptimizer (the seam tfjs-layers trains through)", () => {
  it("applies the rule's update: SGD with momentum keeps its buffer across steps, and setLearningRate keeps that state", async () => {
    const model = scalarModel(1);
    model.compile({ optimizer: torchOptimizer("optim.SGD", { lr: 0.1, momentum: 0.5 }), loss: "meanSquaredError" });
    const x = tf.tensor2d([[1]]);
    const y = tf.tensor2d([[0]]);
    // loss (w x - y)^2: gradient 2w. Step 1: buf = 2, w = 1 - 0.2 = 0.8.
    await model.trainOnBatch(x, y);
    expect(weight(model)).toBeCloseTo(0.8, 6);
    setLearningRate(model, 0.05);
    expect(getLearningRate(model)).toBe(0.05);
    // Step 2: g = 1.6, buf = 0.5 * 2 + 1.6 = 2.6, w = 0.8 - 0.05 * 2.6 = 0.67: the buffer survived the new rate.
    await model.trainOnBatch(x, y);
    expect(weight(model)).toBeCloseTo(0.67, 6);
  });

  it("leaks no tensors: after the first step creates the state slots, each step leaves the count unchanged", async () => {
    const model = scalarModel(1);
    model.compile({ optimizer: torchOptimizer("optim.RMSprop", { momentum: 0.5, centered: true }), loss: "meanSquaredError" });
    const x = tf.tensor2d([[1], [2]]);
    const y = tf.tensor2d([[0], [1]]);
    await model.trainOnBatch(x, y);
    const count = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) await model.trainOnBatch(x, y);
    expect(tf.memory().numTensors).toBe(count);
  });

  it("names the framework's class, and saves and restores its state slots with the iteration count", async () => {
    const model = scalarModel(1);
    const optimizer = torchOptimizer("optim.Adam");
    model.compile({ optimizer, loss: "meanSquaredError" });
    expect(optimizer.getClassName()).toBe("Adam");
    expect(optimizer.getConfig()).toMatchObject({ learning_rate: 1e-3, eps: 1e-8, amsgrad: false });
    await model.trainOnBatch(tf.tensor2d([[1]]), tf.tensor2d([[0]]));
    // getWeights hands out the live variables (as TF.js' optimizers do): copy them to keep them.
    const saved = (await optimizer.getWeights()).map((w) => ({ name: w.name, tensor: w.tensor.clone() }));
    expect(saved.map((w) => w.name.split("/").pop())).toEqual(["iter", "exp_avg", "exp_avg_sq"]);
    const moments = saved.slice(1).map((w) => w.tensor.dataSync()[0]);
    await model.trainOnBatch(tf.tensor2d([[1]]), tf.tensor2d([[0]]));
    await optimizer.setWeights(saved);
    const restored = (await optimizer.getWeights()).slice(1).map((w) => w.tensor.dataSync()[0]);
    expect(restored).toEqual(moments);
    expect(optimizer.iterations).toBe(1);
  });
});
