import { beforeAll, describe, expect, it } from "vitest";
import { selectBackend } from "../backend.js";
import { tf } from "../tfjs.js";
import { kerasLossWithOptions } from "./losses.js";

beforeAll(async () => { await selectBackend("cpu"); });

const value = (t: tf.Tensor) => t.dataSync()[0]!;
const logits = () => tf.tensor2d([[2, -1, 0.5], [0.1, 0.2, -3]]);
const oneHot = () => tf.tensor2d([[1, 0, 0], [0, 0, 1]]);

describe("Keras losses with from_logits / label_smoothing", () => {
  it("from_logits equals the probability form on softmax / sigmoid outputs", () => {
    const fromLogits = kerasLossWithOptions("categorical_crossentropy", { from_logits: true })!;
    const manual = -(Math.log(Math.exp(2) / (Math.exp(2) + Math.exp(-1) + Math.exp(0.5))) + Math.log(Math.exp(-3) / (Math.exp(0.1) + Math.exp(0.2) + Math.exp(-3)))) / 2;
    expect(value(fromLogits(oneHot(), logits()))).toBeCloseTo(manual, 5);
    const binary = kerasLossWithOptions("binary_crossentropy", { from_logits: true })!;
    const probs = kerasLossWithOptions("binary_crossentropy", { label_smoothing: 1e-9 })!;
    const y = tf.tensor2d([[1, 0, 1], [0, 1, 1]]);
    expect(value(binary(y, logits()))).toBeCloseTo(value(probs(y, tf.sigmoid(logits()))), 5);
  });

  it("smooths labels as Keras does: y (1 - s) + s / C, and + s / 2 for binary", () => {
    const smoothed = kerasLossWithOptions("categorical_crossentropy", { from_logits: true, label_smoothing: 0.3 })!;
    const plain = kerasLossWithOptions("categorical_crossentropy", { from_logits: true })!;
    const target = tf.add(tf.mul(oneHot(), 0.7), 0.1);
    expect(value(smoothed(oneHot(), logits()))).toBeCloseTo(value(plain(target, logits())), 6);
    expect(kerasLossWithOptions("mse", {})).toBeUndefined();
    expect(() => kerasLossWithOptions("mse", { from_logits: true })).toThrow(/only the crossentropies take them/);
    expect(kerasLossWithOptions("sparse_categorical_crossentropy", { from_logits: true })!.name).not.toMatch(/sparse/i);
  });
});
