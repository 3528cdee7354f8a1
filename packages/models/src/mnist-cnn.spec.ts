import { beforeAll, describe, expect, it } from "vitest";
import { createKerasMnistCnn, createMnistCnn } from "./mnist-cnn.js";
import { useWasm } from "./test-support.js";
import { tf, type LayersModel } from "./tfjs.js";
import { getWeights, setWeights } from "./weights.js";
import { relativeError } from "./wasm-kernels/compare-backends.js";

/** One SGD step from fixed weights on one backend; returns the weights after it. */
async function stepOn(backend: string, make: () => LayersModel, start: ReturnType<typeof getWeights>): Promise<Float32Array[]> {
  await tf.setBackend(backend);
  const model = make();
  model.compile({ optimizer: tf.train.sgd(0.1), loss: "categoricalCrossentropy" });
  setWeights(model, start);
  const x = tf.randomUniform([4, 28, 28, 1], 0, 1, "float32", 21);
  const y = tf.oneHot(tf.tensor1d([1, 7, 3, 0], "int32"), 10);
  await model.trainOnBatch(x, y);
  const after = getWeights(model).map((t) => t.data as Float32Array);
  tf.dispose([x, y]);
  model.dispose();
  return after;
}

describe("MNIST CNNs", () => {
  beforeAll(useWasm);

  it("start from the same weights for the same seed, and from others for another seed", () => {
    const weights = (seed?: number) => getWeights(createMnistCnn({ seed })).map((t) => t.data as Float32Array);
    expect(weights(3)).toEqual(weights(3));
    expect(weights(4)[0]).not.toEqual(weights(3)[0]);
    expect(weights()[0]).not.toEqual(weights()[0]);
  });

  it("take 28x28x1 input and give 10 probabilities", () => {
    for (const model of [createMnistCnn(), createKerasMnistCnn()]) {
      const p = model.predict(tf.zeros([2, 28, 28, 1])) as tf.Tensor;
      expect(p.shape).toEqual([2, 10]);
      const sums = tf.sum(p, 1).dataSync();
      sums.forEach((s) => expect(s).toBeCloseTo(1, 5));
    }
  });

  // A whole training step (every kernel of forward and backward) from the same weights on both
  // backends. The demo CNN is used because it has no dropout, whose random masks differ per backend.
  it("a training step of the demo CNN on wasm matches the cpu backend", async () => {
    await tf.setBackend("cpu");
    const start = getWeights(createMnistCnn({ compile: false }));
    const cpu = await stepOn("cpu", () => createMnistCnn({ compile: false }), start);
    const wasm = await stepOn("wasm", () => createMnistCnn({ compile: false }), start);
    cpu.forEach((c, i) => expect(relativeError(wasm[i], c), `weight ${i}`).toBeLessThan(1e-4));
  });
});
