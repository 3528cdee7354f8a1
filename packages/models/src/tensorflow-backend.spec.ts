/**
 * The native "tensorflow" backend (tfjs-node's binding over TensorFlow's C library), where one is
 * built: CI builds it with `cohort backend install tensorflow` from pip's tensorflow-cpu wheel.
 * Elsewhere the suite is skipped, and says so.
 */
import { describe, expect, it } from "vitest";
import { installedNativeBinding, selectBackend } from "./backend.js";
import { RELU_GRAD_KERNEL } from "./native-kernels/relu-grad.js";
import { kerasOptimizer } from "./optimizers/keras.js";
import type { RuleOptimizer } from "./optimizers/rule-optimizer.js";
import { tf, tfl, type LayersModel } from "./tfjs.js";

const native = installedNativeBinding();
const skipped = native ? "" : " (skipped: no tfjs-node binding is built here; `cohort backend install tensorflow` builds one)";

/** Small images: the pure-JS cpu backend, the reference here, is slow on the seed's 28x28. */
const SIDE = 12;
const BATCH = 16;

/**
 * The seed CNN's kinds of layers (conv, ReLU, max-pool, dense, softmax) without dropout, whose
 * masks differ per backend. Seeded: Adam moves a weight whose gradient is near zero by about lr
 * whatever its sign, so a rounding-level difference between the backends can move it the other
 * way; from a random start that tipped one weight by 4.8e-4 once in a clean-clone CI run. Seeded,
 * the comparison is the same computation every run (here at most 1.1e-6).
 */
function cnn(): LayersModel {
  const init = (seed: number) => ({ kernelInitializer: tfl.initializers.glorotUniform({ seed }) });
  const model = tfl.sequential({
    layers: [
      tfl.layers.conv2d({ inputShape: [SIDE, SIDE, 1], filters: 4, kernelSize: 3, activation: "relu", ...init(1) }),
      tfl.layers.conv2d({ filters: 8, kernelSize: 3, activation: "relu", ...init(2) }),
      tfl.layers.maxPooling2d({ poolSize: 2 }),
      tfl.layers.flatten(),
      tfl.layers.dense({ units: 16, activation: "relu", ...init(3) }),
      tfl.layers.dense({ units: 10, activation: "softmax", ...init(4) }),
    ],
  });
  // Keras' Adam: on this backend ResourceApplyAdam, on the cpu backend the same rule eagerly.
  model.compile({ optimizer: kerasOptimizer("Adam", { lr: 0.01 }), loss: "categoricalCrossentropy" });
  return model;
}

/** Deterministic inputs in [0, 1) (an LCG) and one-hot labels i mod 10. */
function batch(n: number, seed: number): { x: Float32Array; y: Float32Array } {
  const x = new Float32Array(n * SIDE * SIDE);
  let s = seed;
  for (let i = 0; i < x.length; i++) {
    s = (s * 1664525 + 1013904223) >>> 0;
    x[i] = s / 2 ** 32;
  }
  const y = new Float32Array(n * 10);
  for (let i = 0; i < n; i++) y[i * 10 + (i % 10)] = 1;
  return { x, y };
}

async function trainSteps(model: LayersModel, initial: tf.Tensor[], steps: number): Promise<{ losses: number[]; weights: Float32Array[] }> {
  model.setWeights(initial);
  const losses: number[] = [];
  for (let step = 0; step < steps; step++) {
    const { x, y } = batch(BATCH, step + 1);
    const [xs, ys] = [tf.tensor4d(x, [BATCH, SIDE, SIDE, 1]), tf.tensor2d(y, [BATCH, 10])];
    losses.push(Number(await model.trainOnBatch(xs, ys)));
    tf.dispose([xs, ys]);
  }
  const weights = await Promise.all(model.getWeights().map(async (w) => (await w.data()) as Float32Array));
  return { losses, weights };
}

// CI sets COHORT_EXPECT_TENSORFLOW=1 after building the binding: a missing one fails there.
it.runIf(process.env.COHORT_EXPECT_TENSORFLOW === "1" && !native)("has a tfjs-node binding (COHORT_EXPECT_TENSORFLOW=1)", () => {
  expect.fail("no @tensorflow/tfjs-node(-gpu) binding is built: run cohort backend install tensorflow");
});

describe.skipIf(!native)(`tensorflow backend${skipped}`, () => {
  it("is what auto picks, named with the TensorFlow version its binding loaded", async () => {
    const chosen = await selectBackend("auto");
    expect(chosen.name).toBe("tensorflow");
    expect(chosen.detail).toMatch(new RegExp(`^${native!.pkg.replace("/", "\\/")} \\(TensorFlow \\d+\\.\\d+\\.\\d+ C library`));
  });

  it("computes Step (Cohort's two-op kernel for alpha 0, the stock one otherwise) as the cpu backend does, NaN and infinities included", async () => {
    await selectBackend("auto");
    const values = [Number.NaN, -Infinity, -2.5, -0, 0, 1e-30, 3, Infinity];
    const onNative = [0, 0.2].map((alpha) => Array.from(tf.step(tf.tensor1d(values), alpha).dataSync()));
    try {
      await tf.setBackend("cpu");
      const onCpu = [0, 0.2].map((alpha) => Array.from(tf.step(tf.tensor1d(values), alpha).dataSync()));
      expect(onNative).toEqual(onCpu);
      expect(onNative[0]).toEqual([Number.NaN, 0, 0, 0, 0, 1, 1, 1]);
    } finally {
      await tf.setBackend("tensorflow");
    }
  });

  it("sums over the leading axes (Cohort's BiasAddGrad kernel) and over others (stock) as the cpu backend does", async () => {
    await selectBackend("auto");
    const x = batch(6, 7).x.subarray(0, 2 * 3 * 4 * 5);
    const cases: Array<[number[], number | number[], boolean]> = [[[2, 3, 4, 5], [0, 1, 2], false], [[2, 3, 4, 5], [2, -4, 1], false], [[6, 20], 0, false], [[2, 3, 4, 5], [0, 1], false], [[2, 3, 4, 5], [0, 1, 2], true]];
    const sums = () => cases.map(([shape, axis, keep]) => Array.from(tf.sum(tf.tensor(x, shape), axis, keep).dataSync()));
    const onNative = sums();
    try {
      await tf.setBackend("cpu");
      const onCpu = sums();
      onNative.forEach((values, i) => values.forEach((v, j) => expect(v).toBeCloseTo(onCpu[i][j], 5)));
      expect(onNative.map((v) => v.length)).toEqual([5, 5, 20, 20, 5]);
    } finally {
      await tf.setBackend("tensorflow");
    }
  });

  it("takes ReLU's gradient as TensorFlow's ReluGrad (one kernel), as the cpu backend computes it for finite values", async () => {
    await selectBackend("auto");
    const [xs, dys] = [[-3, -0, 0, 1e-30, 0.5, 7, -1e-30], [1, 2, -3, 4, 5, -6, 7]];
    // + 0: the sign of a zero gradient (dy * 0 keeps dy's sign on the cpu backend) is not compared.
    const grad = () => Array.from(tf.tidy(() => tf.grad((x: tf.Tensor) => tf.relu(x))(tf.tensor1d(xs), tf.tensor1d(dys))).dataSync(), (v) => v + 0);
    const onNative = grad();
    const { kernelNames } = await tf.profile(() => { grad(); });
    expect(kernelNames).toContain(RELU_GRAD_KERNEL);
    expect(kernelNames).not.toContain("Step");
    try {
      await tf.setBackend("cpu");
      expect(onNative).toEqual(grad());
      expect(onNative).toEqual([0, 0, 0, 4, 5, -6, 0]);
    } finally {
      await tf.setBackend("tensorflow");
    }
  });

  it("trains as the pure-JS cpu backend does: same losses and weights after 4 Adam steps (fused ResourceApplyAdam here, eager there)", async () => {
    await selectBackend("auto");
    const onNative = cnn();
    const initial = onNative.getWeights().map((w) => ({ shape: w.shape, data: w.dataSync().slice() }));
    const native4 = await trainSteps(onNative, initial.map((w) => tf.tensor(w.data, w.shape)), 4);
    expect((onNative.optimizer as unknown as RuleOptimizer).fusedOps).toEqual(process.env.COHORT_FUSED_OPTIMIZER === "0" ? [] : ["ResourceApplyAdam"]);
    onNative.dispose();
    try {
      await tf.setBackend("cpu");
      const onCpu = cnn();
      const cpu4 = await trainSteps(onCpu, initial.map((w) => tf.tensor(w.data, w.shape)), 4);
      onCpu.dispose();
      expect(native4.losses[3]).toBeLessThan(native4.losses[0]);
      native4.losses.forEach((loss, i) => expect(loss).toBeCloseTo(cpu4.losses[i], 4));
      native4.weights.forEach((w, i) => {
        let worst = 0;
        for (let j = 0; j < w.length; j++) worst = Math.max(worst, Math.abs(w[j] - cpu4.weights[i][j]));
        expect(worst, `weight ${i}`).toBeLessThan(1e-4);
      });
    } finally {
      await tf.setBackend("tensorflow");
    }
  });
});
