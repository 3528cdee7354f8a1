import { existsSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { selectBackend } from "../backend.js";
import { tf, tfl, type LayersModel } from "../tfjs.js";
import { kerasOptimizer } from "../optimizers/keras.js";
import { torchOptimizer } from "../optimizers/torch.js";
import { ParallelWasmTrainer } from "./parallel-trainer.js";

// One step on 3 wasm worker threads (the workers sum their gradients among themselves) against
// trainOnBatch on this thread, from the same weights and batch. The workers run the built
// packages/models/dist/wasm-parallel/worker.js: `npm test` builds first.
const trainers: ParallelWasmTrainer[] = [];

beforeAll(async () => {
  const backend = await selectBackend("wasm");
  if (backend.name !== "wasm") throw new Error(`expected the wasm backend, got ${backend.name} (${backend.detail})`);
});

afterAll(async () => {
  await Promise.all(trainers.map((t) => t.close()));
});

function smallModel(optimizer: () => tf.Optimizer = () => tf.train.sgd(0.5)): LayersModel {
  const model = tfl.sequential({ layers: [tfl.layers.dense({ inputShape: [20], units: 16, activation: "relu" }), tfl.layers.dense({ units: 3, activation: "softmax" })] });
  model.compile({ optimizer: optimizer(), loss: "categoricalCrossentropy", metrics: ["accuracy"] });
  return model;
}

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => Math.max(...Array.from(a, (v, j) => Math.abs(v - b[j])));

describe("ParallelWasmTrainer", () => {
  it("steps as trainOnBatch does, on 3 threads summing their own gradients, and accounts for each thread's time", async () => {
    const rows = 10; // slices of 3, 3 and 4 rows
    const x = Float32Array.from({ length: rows * 20 }, (_, i) => Math.sin(i * 0.37));
    const y = Float32Array.from({ length: rows * 3 }, (_, i) => (i % 3 === Math.floor(i / 3) % 3 ? 1 : 0));
    const single = smallModel();
    const parallel = smallModel();
    parallel.setWeights(single.getWeights());
    const trainer = await ParallelWasmTrainer.start(parallel, 3);
    trainers.push(trainer);

    const expected = await single.trainOnBatch(tf.tensor(x, [rows, 20]), tf.tensor(y, [rows, 3])) as number[];
    const result = await trainer.step({ x, y, rows });
    await trainer.sync(); // the weights, stepped in the workers, back into the model

    expect(result.loss).toBeCloseTo(expected[0], 5);
    expect(result.correct! / rows).toBeCloseTo(expected[1], 6);
    const a = single.getWeights().map((w) => w.dataSync());
    const b = parallel.getWeights().map((w) => w.dataSync());
    const start = smallModel(); // a fresh model's weights differ: the step must have moved both alike
    for (let i = 0; i < a.length; i++) {
      const moved = Math.max(...a[i].map((v, j) => Math.abs(v - b[i][j])));
      expect(moved, `weight ${i}`).toBeLessThan(1e-6);
    }
    expect(start.getWeights()[0].dataSync().some((v, j) => v !== a[0][j])).toBe(true);

    expect(result.workers).toHaveLength(3);
    for (const w of result.workers) {
      expect(w.barrierMs).toBeGreaterThanOrEqual(0);
      expect(w.ms).toBeGreaterThanOrEqual(w.barrierMs);
    }
    if (existsSync("/proc/thread-self/schedstat")) {
      // Thread clocks advance at scheduler ticks: this small a step may read 0 ms, never less.
      for (const w of result.workers) {
        for (const ms of [w.computeCpuMs, w.reduceCpuMs, w.runQueueMs]) expect(ms).toBeGreaterThanOrEqual(0);
      }
      expect(result.mainCpuMs?.publish).toBeGreaterThanOrEqual(0);
      expect(result.mainCpuMs?.apply).toBeGreaterThanOrEqual(0);
      for (const w of result.workers) expect(w.optimizerCpuMs).toBeGreaterThanOrEqual(0);
    }

    // A batch the workers cannot use (7 features a row, the model takes 20) is rejected with the
    // workers' reason, and the trainer goes on with the next batch.
    await expect(trainer.step({ x: new Float32Array(rows * 7), y, rows })).rejects.toThrow(/wasm worker: .*20/s);
    const again = await trainer.step({ x, y, rows });
    expect(again.loss).toBeLessThan(result.loss); // the same batch after one more step of SGD
  });

  // The workers step the optimizer, each on its stretch of the weights (2 threads cut the first
  // kernel in two; Cohort's rules in their elementwise form), and hand its state back: the
  // model's optimizer then holds the same step count and moments as after trainOnBatch, and a
  // step on this thread goes on from them.
  it.each([
    ["Cohort's Keras Adam", () => kerasOptimizer("adam", { lr: 0.01 })],
    ["Cohort's torch SGD with momentum", () => torchOptimizer("optim.SGD", { lr: 0.05, momentum: 0.9, dampening: 0.1 })],
    ["tfjs' stock Adam", () => tf.train.adam(0.01)],
  ])("steps %s in the workers and hands its state back to the model's optimizer", async (_name, optimizer) => {
    const rows = 8;
    const x = Float32Array.from({ length: rows * 20 }, (_, i) => Math.cos(i * 0.21));
    const y = Float32Array.from({ length: rows * 3 }, (_, i) => (i % 3 === Math.floor(i / 3) % 3 ? 1 : 0));
    const single = smallModel(optimizer);
    const parallel = smallModel(optimizer);
    parallel.setWeights(single.getWeights());
    const trainer = await ParallelWasmTrainer.start(parallel, 2);
    trainers.push(trainer);
    expect(trainer.optimizerOnMainThread).toBeUndefined();
    const [xs, ys] = [tf.tensor(x, [rows, 20]), tf.tensor(y, [rows, 3])];
    const tensorsAfterRound: number[] = [];
    for (let round = 0; round < 3; round++) { // later rounds start from the state handed back
      for (let s = 0; s < 2; s++) {
        await single.trainOnBatch(xs, ys);
        await trainer.step({ x, y, rows });
      }
      await trainer.sync();
      tensorsAfterRound.push(tf.memory().numTensors);
    }
    // Handing the state out and back leaves no tensors behind on this thread (trainOnBatch's own are disposed by it).
    expect(tensorsAfterRound[2]).toBe(tensorsAfterRound[1]);
    const expected = await single.optimizer.getWeights();
    const handed = await parallel.optimizer.getWeights();
    expect(handed).toHaveLength(expected.length);
    expect(handed[0].tensor.dataSync()[0]).toBe(6); // the step count
    for (let i = 1; i < expected.length; i++) {
      expect(handed[i].tensor.shape).toEqual(expected[i].tensor.shape);
      expect(maxDiff(handed[i].tensor.dataSync(), expected[i].tensor.dataSync()), expected[i].name).toBeLessThan(1e-6);
    }
    // One more step on this thread: with the moments lost, Adam's first step would move every weight by ~lr.
    await single.trainOnBatch(xs, ys);
    await parallel.trainOnBatch(xs, ys);
    const a = single.getWeights().map((w) => w.dataSync());
    const b = parallel.getWeights().map((w) => w.dataSync());
    for (let i = 0; i < a.length; i++) expect(maxDiff(a[i], b[i]), `weight ${i}`).toBeLessThan(1e-5);
  });

  it("steps an optimizer the workers cannot (clipnorm, a norm of the whole variable) on the main thread, saying why", async () => {
    const rows = 6;
    const x = Float32Array.from({ length: rows * 20 }, (_, i) => Math.sin(i * 0.13));
    const y = Float32Array.from({ length: rows * 3 }, (_, i) => (i % 3 === 0 ? 1 : 0));
    const clipped = () => kerasOptimizer("sgd", { lr: 0.5, config: { clipnorm: 0.01 } });
    const single = smallModel(clipped);
    const parallel = smallModel(clipped);
    parallel.setWeights(single.getWeights());
    const trainer = await ParallelWasmTrainer.start(parallel, 2);
    trainers.push(trainer);
    expect(trainer.optimizerOnMainThread).toMatch(/clips each gradient by the norm of the whole variable/);
    await single.trainOnBatch(tf.tensor(x, [rows, 20]), tf.tensor(y, [rows, 3]));
    await trainer.step({ x, y, rows }); // the model's weights move at once, with no sync
    const a = single.getWeights().map((w) => w.dataSync());
    const b = parallel.getWeights().map((w) => w.dataSync());
    for (let i = 0; i < a.length; i++) expect(maxDiff(a[i], b[i]), `weight ${i}`).toBeLessThan(1e-6);
    expect(maxDiff(a[0], smallModel().getWeights()[0].dataSync())).toBeGreaterThan(0);
  });
});
