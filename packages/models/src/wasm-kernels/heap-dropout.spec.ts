import { beforeAll, describe, expect, it } from "vitest";
import { useWasm } from "../test-support.js";
import { tf, tfl } from "../tfjs.js";
import { heapDropout } from "./heap-dropout.js";

describe("wasm Dropout with its mask drawn into the heap", () => {
  beforeAll(useWasm);

  const input = () => tf.add(tf.randomUniform([4, 6, 5, 3], -1, 1, "float32", 7), 0.01);

  it("draws tfjs-core's mask for the same seed, bit for bit, and the same gradient", () => {
    for (const [rate, noiseShape] of [[0.25, [4, 6, 5, 3]], [0.5, [4, 1, 1, 3]], [0.9, [1, 6, 5, 3]], [0.05, [4, 6, 5, 3]]] as const) {
      const x = input();
      const f = (v: tf.Tensor) => tf.sum(tf.mul(heapDropout(v, rate, [...noiseShape], 1234), v));
      const g = (v: tf.Tensor) => tf.sum(tf.mul(tf.dropout(v, rate, [...noiseShape], 1234), v));
      const ours = heapDropout(x, rate, [...noiseShape], 1234);
      const theirs = tf.dropout(x, rate, [...noiseShape], 1234);
      expect(Array.from(ours.dataSync())).toEqual(Array.from(theirs.dataSync()));
      // The mask is not all ones or zeros (the comparison above could not fail otherwise).
      const kept = tf.notEqual(theirs, 0).sum().dataSync()[0] / theirs.size;
      expect(kept).toBeGreaterThan(0);
      expect(kept).toBeLessThan(1);
      expect(Array.from(tf.grad(f)(x).dataSync())).toEqual(Array.from(tf.grad(g)(x).dataSync()));
      tf.dispose([x, ours, theirs]);
    }
  });

  it("serves tfjs-layers' Dropout and SpatialDropout1D in training, with their seeds, and leaves inference alone", async () => {
    const x = tf.randomUniform([8, 10, 4], -1, 1, "float32", 3);
    for (const layer of [tfl.layers.dropout({ rate: 0.4, seed: 99 }), tfl.layers.spatialDropout1d({ rate: 0.4, seed: 99 })]) {
      const noiseShape = layer.getClassName() === "SpatialDropout1D" ? [8, 1, 4] : [8, 10, 4];
      const trained = layer.apply(x, { training: true }) as tf.Tensor;
      // Routed here: tfjs-core's path would run Floor on the drawn values.
      const profile = await tf.profile(() => layer.apply(x, { training: true }) as tf.Tensor);
      expect(profile.kernelNames).not.toContain("Floor");
      expect(profile.kernelNames).toContain("Multiply");
      expect(Array.from(trained.dataSync())).toEqual(Array.from(tf.dropout(x, 0.4, noiseShape, 99).dataSync()));
      const inferred = layer.apply(x, { training: false }) as tf.Tensor;
      expect(Array.from(inferred.dataSync())).toEqual(Array.from(x.dataSync()));
      tf.dispose([trained, inferred]);
    }
    x.dispose();
  });

  it("draws a different mask from each seed, and unseeded masks differ call to call", () => {
    const x = tf.ones([2000]);
    const a = heapDropout(x, 0.5, [2000], 1).dataSync();
    const b = heapDropout(x, 0.5, [2000], 2).dataSync();
    const c = heapDropout(x, 0.5, [2000], undefined).dataSync();
    const d = heapDropout(x, 0.5, [2000], undefined).dataSync();
    const differ = (p: ArrayLike<number>, q: ArrayLike<number>) => Array.from(p).some((v, i) => v !== q[i]);
    expect(differ(a, b)).toBe(true);
    expect(differ(c, d)).toBe(true);
    x.dispose();
  });

  it("frees what it allocates", () => {
    const x = input();
    const before = tf.memory().numTensors;
    const y = heapDropout(x, 0.3, x.shape, 5);
    expect(tf.memory().numTensors).toBe(before + 1);
    tf.dispose([x, y]);
  });
});
