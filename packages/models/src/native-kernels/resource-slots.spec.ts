/**
 * RuleOptimizer's fused path on the tensorflow backend (state in ResourceSlots): the update is
 * TensorFlow's training op, the state carries across steps, learning-rate changes and new weights
 * set between rounds, saves and restores through getWeights / setWeights, and nothing leaks.
 * The rules' values against torch and Keras: optimizers/reference-tensorflow.spec.ts.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { installedNativeBinding, selectBackend } from "../backend.js";
import { getLearningRate, setLearningRate } from "../compile.js";
import { kerasOptimizer } from "../optimizers/keras.js";
import { optimizerUpdate } from "../optimizers/rule-optimizer.js";
import { torchOptimizer } from "../optimizers/torch.js";
import { tf, tfl } from "../tfjs.js";

const native = installedNativeBinding();
const skipped = native ? "" : " (skipped: no tfjs-node binding is built here; `cohort backend install tensorflow` builds one)";

/** y = w * x with one weight; under MSE on x = 1, y = 0 its gradient is 2w. */
function scalarModel(w: number) {
  return tfl.sequential({ layers: [tfl.layers.dense({ units: 1, inputShape: [1], useBias: false, kernelInitializer: tfl.initializers.constant({ value: w }) })] });
}
const weight = (model: tfl.LayersModel) => model.getWeights()[0]!.dataSync()[0]!;
const step = async (model: tfl.LayersModel) => {
  const [x, y] = [tf.tensor2d([[1]]), tf.tensor2d([[0]])];
  await model.trainOnBatch(x, y);
  tf.dispose([x, y]);
};

it.runIf(process.env.COHORT_EXPECT_TENSORFLOW === "1" && !native)("has a tfjs-node binding (COHORT_EXPECT_TENSORFLOW=1)", () => {
  expect.fail("no @tensorflow/tfjs-node(-gpu) binding is built: run cohort backend install tensorflow");
});

describe.skipIf(!native || process.env.COHORT_FUSED_OPTIMIZER === "0")(`fused optimizer steps on the tensorflow backend${skipped}`, () => {
  beforeAll(async () => { expect((await selectBackend("tensorflow")).name).toBe("tensorflow"); });

  it("runs torch's SGD with momentum as ResourceApplyMomentum; the buffer survives a new learning rate and new weights set between rounds", async () => {
    const model = scalarModel(1);
    const optimizer = torchOptimizer("optim.SGD", { lr: 0.1, momentum: 0.5 });
    model.compile({ optimizer, loss: "meanSquaredError" });
    // Step 1: g = 2, buf = 2, w = 1 - 0.2 = 0.8.
    await step(model);
    expect(weight(model)).toBeCloseTo(0.8, 6);
    expect(optimizer.fusedOps).toEqual(["ResourceApplyMomentum"]);
    setLearningRate(model, 0.05);
    expect(getLearningRate(model)).toBe(0.05);
    // Step 2: g = 1.6, buf = 0.5 * 2 + 1.6 = 2.6, w = 0.8 - 0.05 * 2.6 = 0.67.
    await step(model);
    expect(weight(model)).toBeCloseTo(0.67, 6);
    // A new global model arrives (model.setWeights, as the party does each round): the step starts from it.
    model.setWeights([tf.tensor2d([[2]])]);
    // Step 3: g = 4, buf = 0.5 * 2.6 + 4 = 5.3, w = 2 - 0.05 * 5.3 = 1.735.
    await step(model);
    expect(weight(model)).toBeCloseTo(1.735, 5);
  });

  it("saves and restores Keras Adam's moments with the iteration count, and the restored state drives the next step", async () => {
    const model = scalarModel(1);
    const optimizer = kerasOptimizer("Adam", { lr: 0.01 });
    model.compile({ optimizer, loss: "meanSquaredError" });
    await step(model);
    expect(optimizer.fusedOps).toEqual(["ResourceApplyAdam"]);
    const saved = (await optimizer.getWeights()).map((w) => ({ name: w.name, tensor: w.tensor.clone() }));
    expect(saved.map((w) => w.name.split("/").pop())).toEqual(["iter", "m", "v"]);
    // Keras' first step: m = 0.1 g, v = 0.001 g^2 with g = 2.
    expect(saved[1]!.tensor.dataSync()[0]).toBeCloseTo(0.2, 6);
    expect(saved[2]!.tensor.dataSync()[0]).toBeCloseTo(0.004, 6);
    const weightAfterOne = weight(model);
    await step(model);
    const weightAfterTwo = weight(model);
    // Rewind weight and optimizer to after step 1: step 2 must come out the same.
    model.setWeights([tf.tensor2d([[weightAfterOne]])]);
    await optimizer.setWeights(saved);
    expect(optimizer.iterations).toBe(1);
    expect((await optimizer.getWeights()).slice(1).map((w) => w.tensor.dataSync()[0])).toEqual(saved.slice(1).map((w) => w.tensor.dataSync()[0]));
    await step(model);
    expect(weight(model)).toBeCloseTo(weightAfterTwo, 7);
    tf.dispose(saved.map((w) => w.tensor));
  });

  it("keeps Keras 3 Adagrad's accumulator shifted by epsilon inside ResourceApplyAdagrad, and shows and restores it unshifted", async () => {
    const model = scalarModel(1);
    const optimizer = kerasOptimizer("Adagrad", { lr: 0.1, config: { epsilon: 0.01 } });
    model.compile({ optimizer, loss: "meanSquaredError" });
    // Keras 3: accumulator 0.1 + g^2 = 4.1, w = 1 - 0.1 * 2 / sqrt(4.1 + 0.01).
    await step(model);
    expect(optimizer.fusedOps).toEqual(["ResourceApplyAdagrad"]);
    expect(weight(model)).toBeCloseTo(1 - 0.2 / Math.sqrt(4.11), 6);
    const accumulator = () => optimizer.getWeights().then((w) => w[1]!.tensor.dataSync()[0]!);
    expect(await accumulator()).toBeCloseTo(4.1, 5);
    await optimizer.setWeights([{ name: "iter", tensor: tf.scalar(1, "int32") }, { name: `${model.weights[0]!.originalName}/accumulator`, tensor: tf.tensor2d([[0.5]]) }]);
    expect(await accumulator()).toBeCloseTo(0.5, 6);
    // From w = 0.8: g = 1.6, accumulator 0.5 + 2.56 = 3.06, w = 0.8 - 0.1 * 1.6 / sqrt(3.07).
    model.setWeights([tf.tensor2d([[0.8]])]);
    await step(model);
    expect(weight(model)).toBeCloseTo(0.8 - 0.16 / Math.sqrt(3.07), 6);
  });

  it("says for the start-up log which optimizers step fused: Cohort's rules with a TensorFlow op, not torch's RMSprop nor TF.js' own", () => {
    expect(optimizerUpdate(kerasOptimizer("Adam"))).toEqual({ optimizer: "keras.optimizers.Adam (Keras 3 / tf.keras)", fused: true, elementwise: false });
    expect(optimizerUpdate(torchOptimizer("optim.RMSprop"))).toEqual({ optimizer: "torch.optim.RMSprop", fused: false, elementwise: false });
    expect(optimizerUpdate(tf.train.adam(0.01))).toEqual({ optimizer: "Adam", fused: false, elementwise: false });
    expect(optimizerUpdate(undefined)).toBeUndefined();
  });

  it("leaks no tensors: after the first step, steps and getWeights leave the count unchanged, and dispose frees the resources", async () => {
    const model = scalarModel(1);
    const optimizer = kerasOptimizer("RMSprop", { config: { momentum: 0.5, centered: true } });
    model.compile({ optimizer, loss: "meanSquaredError" });
    await step(model);
    await optimizer.getWeights();
    const count = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) {
      await step(model);
      await optimizer.getWeights();
    }
    expect(tf.memory().numTensors).toBe(count);
    expect(optimizer.fusedOps).toEqual(["ResourceApplyCenteredRMSProp"]);
    // 4 resources (weight, average_gradient, velocity, momentum), the 3 slots and the count last read.
    optimizer.dispose();
    expect(tf.memory().numTensors).toBe(count - 8);
  });
});
