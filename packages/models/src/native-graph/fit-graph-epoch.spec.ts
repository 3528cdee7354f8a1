/**
 * The graph trainer's epoch loop on the tensorflow backend: an epoch trains as model.fit does, and
 * the seed CNN's layer kinds train as Keras 3 does (reference steps from
 * testdata/graph-training/gen.py). Runs where a tfjs-node binding is built; CI requires it with
 * COHORT_EXPECT_TENSORFLOW=1.
 */
import { readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { installedNativeBinding, selectBackend } from "../backend.js";
import { kerasOptimizer } from "../optimizers/keras.js";
import { relativeError } from "../optimizers/reference-cases.js";
import { tf, tfl } from "../tfjs.js";
import { fitEpochGraph } from "./fit-graph-epoch.js";
import { lcg, oneHot, step } from "./graph-test-support.js";

const native = installedNativeBinding();
const skipped = native ? "" : " (skipped: no tfjs-node binding is built here; `cohort backend install tensorflow` builds one)";

it.runIf(process.env.COHORT_EXPECT_TENSORFLOW === "1" && !native)("has a tfjs-node binding (COHORT_EXPECT_TENSORFLOW=1)", () => {
  expect.fail("no @tensorflow/tfjs-node(-gpu) binding is built: run cohort backend install tensorflow");
});

describe.skipIf(!native)(`graph training epochs on the tensorflow backend${skipped}`, () => {
  beforeAll(async () => {
    expect((await selectBackend("tensorflow")).name).toBe("tensorflow");
  });

  it.each([0, 0.3])("an epoch of fitEpochGraph trains as model.fit does (Keras' Adam, no shuffling, validation split %s): same epoch metrics and weights", async (validationSplit) => {
    // Seeded: Adam moves a weight whose gradient is near zero by about lr whatever its sign, so
    // from a random start a rounding-level difference could tip one the other way.
    const make = () => {
      const m = tfl.sequential({
        layers: [
          tfl.layers.conv2d({ inputShape: [8, 8, 1], filters: 3, kernelSize: 3, activation: "relu", kernelInitializer: tfl.initializers.glorotUniform({ seed: 1 }) }),
          tfl.layers.maxPooling2d({ poolSize: 2 }),
          tfl.layers.flatten(),
          tfl.layers.dense({ units: 4, activation: "softmax", kernelInitializer: tfl.initializers.glorotUniform({ seed: 2 }) }),
        ],
      });
      m.compile({ optimizer: kerasOptimizer("Adam", { lr: 0.01 }), loss: "categoricalCrossentropy", metrics: ["accuracy"] });
      return m;
    };
    const [a, b] = [make(), make()];
    b.setWeights(a.getWeights());
    const x = tf.tensor4d(lcg(50 * 64, 9), [50, 8, 8, 1]);
    const y = oneHot(50, 4);
    const history = await a.fit(x, y, { epochs: 1, batchSize: 16, shuffle: false, verbose: 0, validationSplit });
    const s = step(b);
    const batches: number[] = [];
    const logs = await fitEpochGraph(s, b, x, y, { batchSize: 16, shuffle: false, onBatchEnd: (k) => batches.push(k), validationSplit });
    s.dispose();
    // 50 rows in batches of 16; with 0.3 held out, the first 35 rows.
    expect(batches).toEqual(validationSplit ? [0, 1, 2] : [0, 1, 2, 3]);
    expect(Object.keys(logs).sort()).toEqual(Object.keys(history.history).sort());
    for (const [name, values] of Object.entries(history.history)) expect(logs[name], name).toBeCloseTo(Number(values[0]), 5);
    a.getWeights().forEach((w, k) => expect(relativeError(b.getWeights()[k]!.dataSync(), w.dataSync()), `weight ${k}`).toBeLessThan(1e-4));
    tf.dispose([x, y]);
  });

  it("trains the seed CNN's layer kinds as Keras 3 does: same losses and weights after 4 Adam steps (testdata/graph-training)", async () => {
    const ref = JSON.parse(readFileSync(new URL("../../testdata/graph-training/keras_cnn_steps.json", import.meta.url), "utf8")) as { side: number; batch: number; steps: number; lr: number; losses: number[]; weights: Array<{ shape: number[]; values: number[] }> };
    const model = tfl.sequential({
      layers: [
        tfl.layers.conv2d({ inputShape: [ref.side, ref.side, 1], filters: 4, kernelSize: 3, activation: "relu" }),
        tfl.layers.conv2d({ filters: 8, kernelSize: 3, activation: "relu" }),
        tfl.layers.maxPooling2d({ poolSize: 2 }),
        tfl.layers.dropout({ rate: 0 }),
        tfl.layers.flatten(),
        tfl.layers.dense({ units: 16, activation: "relu" }),
        tfl.layers.dropout({ rate: 0 }),
        tfl.layers.dense({ units: 10, activation: "softmax" }),
      ],
    });
    model.compile({ optimizer: kerasOptimizer("Adam", { lr: ref.lr }), loss: "categoricalCrossentropy" });
    // gen.py's initial weights: ((i * 37 + k * 11) mod 101 - 50) / 400.
    model.setWeights(model.getWeights().map((w, k) => tf.tensor(Float32Array.from({ length: w.size }, (_, i) => (((i * 37 + k * 11) % 101) - 50) / 400), w.shape)));
    const s = step(model);
    const losses: number[] = [];
    for (let k = 0; k < ref.steps; k++) {
      const x = tf.tensor4d(lcg(ref.batch * ref.side * ref.side, k + 1), [ref.batch, ref.side, ref.side, 1]);
      const y = tf.tidy(() => tf.cast(tf.oneHot(tf.tensor1d(Array.from({ length: ref.batch }, (_, i) => i % 10), "int32"), 10), "float32"));
      const logs = await fitEpochGraph(s, model, x, y, { batchSize: ref.batch, shuffle: false });
      losses.push(logs.loss!);
      tf.dispose([x, y]);
    }
    s.dispose();
    losses.forEach((loss, k) => expect(loss, `loss of step ${k}`).toBeCloseTo(ref.losses[k]!, 4));
    model.getWeights().forEach((w, k) => {
      expect(w.shape).toEqual(ref.weights[k]!.shape);
      expect(relativeError(w.dataSync(), ref.weights[k]!.values), `weight ${k}`).toBeLessThan(1e-4);
    });
  });
});
