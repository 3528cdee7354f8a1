import { beforeAll, describe, it } from "vitest";
import { useWasm } from "../test-support.js";
import { tf, type Tensor } from "../tfjs.js";
import { expectWasmMatchesCpu } from "./compare-backends.js";

type Pad = "same" | "valid" | number;
const CASES: Array<{ shape: [number, number, number, number]; size: [number, number]; stride: [number, number]; pad: Pad }> = [
  { shape: [3, 8, 8, 5], size: [2, 2], stride: [2, 2], pad: "valid" },
  { shape: [2, 9, 7, 4], size: [2, 2], stride: [2, 2], pad: "same" }, // odd sizes: partial windows
  { shape: [2, 9, 9, 3], size: [3, 3], stride: [2, 2], pad: "valid" }, // overlapping windows accumulate
  { shape: [2, 10, 10, 3], size: [3, 3], stride: [1, 1], pad: "same" },
  { shape: [2, 11, 8, 2], size: [3, 2], stride: [3, 1], pad: "valid" },
  // No numeric pad: tfjs-backend-wasm 4.22's own MaxPool forward overruns its output buffer
  // with one (its output shape disagrees with tfjs-core's), corrupting the wasm heap.
];

describe("wasm MaxPoolGrad matches the cpu backend", () => {
  beforeAll(useWasm);

  for (const c of CASES) {
    it(`${c.shape} pool ${c.size} stride ${c.stride} pad ${c.pad}`, async () => {
      await tf.setBackend("cpu");
      const x = tf.randomNormal(c.shape, 0, 1, "float32", 4) as tf.Tensor4D;
      // Weighting each output differently makes a gradient sent to the wrong pixel visible.
      const outShape = tf.maxPool(x, c.size, c.stride, c.pad).shape;
      const weights = tf.reshape(tf.range(1, 1 + outShape.reduce((p, d) => p * d, 1)), outShape);
      const loss = (a: Tensor) => tf.sum(tf.mul(tf.maxPool(a as tf.Tensor4D, c.size, c.stride, c.pad), weights));
      await expectWasmMatchesCpu(() => tf.grad(loss)(x));
      tf.dispose(weights);
      tf.dispose(x);
    });
  }

  it("sends a tie's gradient to the first maximum, like the cpu backend (ReLU zeros tie often)", async () => {
    await tf.setBackend("cpu");
    const x = tf.relu(tf.randomNormal([2, 6, 6, 3], -1, 1, "float32", 9)) as tf.Tensor4D;
    await expectWasmMatchesCpu(() => tf.grad((a: Tensor) => tf.sum(tf.maxPool(a as tf.Tensor4D, 2, 2, "valid")))(x));
    tf.dispose(x);
  });
});
