import { beforeAll, describe, expect, it } from "vitest";
import { selectBackend } from "../backend.js";
import { tf, tfl } from "../tfjs.js";
import { KerasGRU } from "./gru-reset-after.js";

/** One GRU step with reset_after written out in plain arithmetic (Keras' GRUCell.call, reset_after=True). */
function stepByHand(x: number[], h: number[], k: number[][], r: number[][], b: number[][], units: number): number[] {
  const sig = (v: number) => 1 / (1 + Math.exp(-v));
  const dot = (v: number[], m: number[][], col: number) => v.reduce((s, vi, i) => s + vi * m[i][col], 0);
  return Array.from({ length: units }, (_, j) => {
    const g = (gate: number, row: number[][], v: number[], bias: number[]) => dot(v, row, gate * units + j) + bias[gate * units + j];
    const z = sig(g(0, k, x, b[0]) + g(0, r, h, b[1]));
    const rr = sig(g(1, k, x, b[0]) + g(1, r, h, b[1]));
    const hh = Math.tanh(g(2, k, x, b[0]) + rr * g(2, r, h, b[1]));
    return z * h[j] + (1 - z) * hh;
  });
}

describe("KerasGRU (reset_after)", () => {
  beforeAll(async () => {
    await selectBackend("cpu");
  });

  it("computes Keras' reset_after GRU step with a two-row bias", () => {
    const units = 2;
    const layer = new KerasGRU({ units, recurrentActivation: "sigmoid", activation: "tanh", inputShape: [1, 3] });
    const model = tfl.sequential({ layers: [layer as unknown as tfl.layers.Layer] });
    const k = [[0.1, -0.2, 0.3, 0.4, -0.5, 0.6], [0.7, 0.1, -0.1, 0.2, 0.3, -0.4], [0.05, 0.15, -0.25, 0.35, 0.45, 0.55]];
    const r = [[0.2, 0.1, -0.3, 0.5, 0.4, -0.1], [-0.6, 0.3, 0.2, 0.1, -0.2, 0.3]];
    const b = [[0.1, 0.2, 0.3, -0.1, -0.2, -0.3], [0.5, -0.5, 0.25, -0.25, 0.4, -0.4]];
    expect(layer.weights.map((w) => w.shape)).toEqual([[3, 6], [2, 6], [2, 6]]);
    model.setWeights([tf.tensor(k), tf.tensor(r), tf.tensor(b)]);
    const x = [0.3, -0.7, 0.9];
    const got = Array.from((model.predict(tf.tensor([[x]])) as tf.Tensor).dataSync());
    const want = stepByHand(x, [0, 0], k, r, b, units);
    got.forEach((g, i) => expect(g).toBeCloseTo(want[i], 6));
    // The recurrent bias is what reset_after adds: it must change the result.
    expect(Math.abs(want[0] - stepByHand(x, [0, 0], k, r, [b[0], [0, 0, 0, 0, 0, 0]], units)[0])).toBeGreaterThan(1e-3);
    expect(layer.getConfig().resetAfter).toBe(true);
  });

  it("trains with dropout and recurrent_dropout: masks only in training, none left behind between batches", async () => {
    const make = (dropout: number) => {
      const m = tfl.sequential({ layers: [new KerasGRU({ units: 3, dropout, recurrentDropout: dropout, inputShape: [4, 2] }) as unknown as tfl.layers.Layer, tfl.layers.dense({ units: 1 })] });
      m.compile({ optimizer: "sgd", loss: "meanSquaredError" });
      return m;
    };
    const withDropout = make(0.5);
    const plain = make(0);
    plain.setWeights(withDropout.getWeights());
    const x = tf.randomNormal([8, 4, 2], 0, 1, "float32", 3);
    const y = tf.randomNormal([8, 1], 0, 1, "float32", 4);
    // Inference ignores dropout.
    expect(Array.from((withDropout.predict(x) as tf.Tensor).dataSync())).toEqual(Array.from((plain.predict(x) as tf.Tensor).dataSync()));
    // Training applies it: the same batch from the same weights takes another step than without dropout.
    await withDropout.trainOnBatch(x, y);
    await plain.trainOnBatch(x, y);
    const kernel = (m: tfl.LayersModel) => Array.from(m.getWeights()[0].dataSync());
    expect(kernel(withDropout)).not.toEqual(kernel(plain));
    await withDropout.fit(x, y, { epochs: 1, batchSize: 4, verbose: 0 });
    const before = tf.memory().numTensors;
    const history = await withDropout.fit(x, y, { epochs: 2, batchSize: 4, verbose: 0 });
    expect(history.history.loss.every((l) => Number.isFinite(l as number))).toBe(true);
    expect(tf.memory().numTensors).toBeLessThanOrEqual(before + 2);
  });
});
