import path from "node:path";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Conv2D, atrousConv2d } from "./atrous-conv.js";
import { selectBackend } from "./backend.js";
import { loadModelFromSpec } from "./model-spec.js";
import { loadLayersModelFromFile, saveLayersModelToDir } from "./model-files.js";
import { getWeights } from "./weights.js";
import { tf, tfl } from "./tfjs.js";
import { npy, ownFixtures, relError } from "./pytorch/fixture-check.js";

const dir = mkdtempSync(path.join(tmpdir(), "cohort-atrous-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The kernel with rate-1 zeros between its taps: a dense conv with it is the dilated conv, and tfjs differentiates it. */
function zeroInserted(k: tf.Tensor4D, [rh, rw]: [number, number]): tf.Tensor4D {
  const along = (t: tf.Tensor4D, axis: number, r: number): tf.Tensor4D => {
    if (r === 1) return t;
    const n = t.shape[axis]!;
    const pads = [[0, 0], [0, 0], [0, 0], [0, 0], [0, 0]] as [number, number][];
    pads[axis + 1] = [0, r - 1];
    const spread = tf.reshape(tf.pad(tf.expandDims(t, axis + 1), pads), t.shape.map((d, i) => (i === axis ? d * r : d)));
    const size = t.shape.map((d, i) => (i === axis ? (n - 1) * r + 1 : d));
    return tf.slice(spread, [0, 0, 0, 0], size) as tf.Tensor4D;
  };
  return along(along(k, 0, rh), 1, rw);
}

describe("dilated Conv2D trains (spaceToBatchND -> conv2d -> batchToSpaceND), cpu backend", () => {
  beforeAll(async () => { await selectBackend("cpu"); });

  const cases: { shape: [number, number, number, number]; kernel: [number, number, number, number]; rates: [number, number]; padding: "same" | "valid" }[] = [
    { shape: [2, 9, 11, 3], kernel: [3, 3, 3, 4], rates: [2, 2], padding: "same" },
    { shape: [2, 10, 7, 2], kernel: [3, 2, 2, 5], rates: [2, 3], padding: "same" },
    { shape: [1, 13, 12, 3], kernel: [2, 3, 3, 2], rates: [3, 2], padding: "valid" },
    { shape: [3, 11, 8, 1], kernel: [3, 3, 1, 2], rates: [4, 1], padding: "valid" },
  ];

  for (const c of cases) {
    it(`forward and gradients equal tfjs' dilated conv / a zero-inserted kernel: input ${c.shape}, kernel ${c.kernel}, rates ${c.rates}, ${c.padding}`, () => {
      const x = tf.randomNormal(c.shape, 0, 1, "float32", 1) as tf.Tensor4D;
      const k = tf.randomNormal(c.kernel, 0, 1, "float32", 2) as tf.Tensor4D;
      const ours = atrousConv2d(x, k, c.rates, c.padding);
      const tfjs = tf.conv2d(x, k, 1, c.padding, "NHWC", c.rates);
      expect(relError(ours, tfjs)).toBeLessThanOrEqual(1e-6);
      const dy = tf.randomNormal(ours.shape, 0, 1, "float32", 3);
      const [gx, gk] = tf.grads((a: tf.Tensor, b: tf.Tensor) => atrousConv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.rates, c.padding))([x, k], dy);
      const [rx, rk] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.conv2d(a as tf.Tensor4D, zeroInserted(b as tf.Tensor4D, c.rates), 1, c.padding))([x, k], dy);
      expect(relError(gx!, rx!)).toBeLessThanOrEqual(1e-5);
      expect(relError(gk!, rk!)).toBeLessThanOrEqual(1e-5);
    });
  }

  it("tfjs itself still cannot differentiate its dilated conv (why this layer exists)", () => {
    const x = tf.randomNormal([1, 6, 6, 1]) as tf.Tensor4D;
    const k = tf.randomNormal([3, 3, 1, 1]) as tf.Tensor4D;
    expect(() => tf.grad((a: tf.Tensor) => tf.conv2d(a as tf.Tensor4D, k, 1, "same", "NHWC", 2))(x)).toThrow(/dilation/i);
  });

  it("a Keras-style config with dilation_rate builds the trainable Conv2D, fits, and survives a model.json round trip", async () => {
    const model = tfl.sequential({ layers: [
      new Conv2D({ inputShape: [10, 10, 2], filters: 3, kernelSize: 3, dilationRate: 2, padding: "same", activation: "relu" }),
      tfl.layers.conv2d({ filters: 2, kernelSize: [2, 3], dilationRate: [3, 2], dataFormat: "channelsLast" }),
      tfl.layers.flatten(), tfl.layers.dense({ units: 2 }),
    ] });
    // Rebuilt from its JSON config, as the Keras loaders and model.json do: every Conv2D is ours.
    await saveLayersModelToDir(model, dir);
    const loaded = await loadLayersModelFromFile(path.join(dir, "model.json"));
    expect(JSON.parse(readFileSync(path.join(dir, "model.json"), "utf8")).modelTopology.config.layers.map((l: { class_name: string }) => l.class_name)).toEqual(["Conv2D", "Conv2D", "Flatten", "Dense"]);
    expect(loaded.layers.filter((l) => l instanceof Conv2D)).toHaveLength(2);
    const x = tf.randomUniform([6, 10, 10, 2], 0, 1, "float32", 4);
    expect(relError(loaded.predict(x) as tf.Tensor, model.predict(x) as tf.Tensor)).toBeLessThanOrEqual(1e-6);
    loaded.compile({ optimizer: tf.train.sgd(0.01), loss: "meanSquaredError" });
    const before = getWeights(loaded);
    const history = await loaded.fit(x, tf.randomNormal([6, 2], 0, 1, "float32", 5), { epochs: 2, batchSize: 6, verbose: 0 });
    expect((history.history.loss as number[]).every(Number.isFinite)).toBe(true);
    const after = getWeights(loaded);
    expect(after[0]!.data.some((v, i) => v !== before[0]!.data[i])).toBe(true); // the dilated kernel moved
  });

  it("PyTorch conv_pad_stride (Conv2d dilation=2, padding='same'): matches PyTorch's output, trains a step, and matches again with the original weights", async () => {
    const fixture = path.join(ownFixtures, "pytorch", "conv_pad_stride");
    const model = await loadModelFromSpec({ name: "PytorchFLModel", specBaseDir: fixture, spec: { model_definition: "model.pt", optimizer: "optim.SGD", loss_criterion: "nn.MSELoss", learning_rate: 0.05, input_shape: [3, 12, 12] } });
    expect(model.layers.some((l) => l instanceof Conv2D && (l.getConfig().dilationRate as number[]).join() === "2,2")).toBe(true);
    const x = npy(path.join(fixture, "input.npy"));
    const expected = npy(path.join(fixture, "expected.npy"));
    const err = relError(model.predict(x) as tf.Tensor, expected);
    console.log(`conv_pad_stride (dilated, trainable conv) vs PyTorch: max rel error ${err.toExponential(2)}`);
    expect(err).toBeLessThanOrEqual(1e-5);
    const original = model.getWeights().map((w) => w.clone());
    const before = getWeights(model);
    const history = await model.fit(x, tf.randomUniform(expected.shape, 0, 1, "float32", 6), { epochs: 1, batchSize: 4, verbose: 0 });
    expect(Number.isFinite(history.history.loss![0] as number)).toBe(true);
    const after = getWeights(model);
    const dilated = model.layers.findIndex((l) => l instanceof Conv2D && (l.getConfig().dilationRate as number[])[0] === 2);
    const moved = after.filter((t, i) => t.name.startsWith(String(dilated).padStart(3, "0")) && t.data.some((v, k) => v !== before[i]!.data[k]));
    expect(moved.length).toBeGreaterThan(0);
    model.setWeights(original);
    expect(relError(model.predict(x) as tf.Tensor, expected)).toBeLessThanOrEqual(1e-5);
  });
});
