import { describe, expect, it } from "vitest";
import { installedNativeBinding, selectBackend } from "./backend.js";
import { tf } from "./tfjs.js";

describe("selectBackend", () => {
  const native = installedNativeBinding();
  // Where a binding is built, auto picks it: tensorflow-backend.spec.ts covers that case.
  it.skipIf(native !== undefined)(`falls back past the absent tfjs-node packages to wasm with SIMD, and is idempotent${native ? ` (skipped: ${native.pkg} has a binding)` : ""}`, async () => {
    const first = await selectBackend("auto");
    expect(first.name).toBe("wasm");
    expect(first.detail).toMatch(/^@tensorflow\/tfjs-backend-wasm \(SIMD, 1 thread\)/);
    expect(first.detail).toMatch(/@tensorflow\/tfjs-node-gpu: not installed; @tensorflow\/tfjs-node: not installed/);
    expect(tf.getBackend()).toBe("wasm");
    const second = await selectBackend("cpu");
    expect(second).toBe(first);
    expect(tf.getBackend()).toBe("wasm");
  });

  it.skipIf(native !== undefined)(`runs the registered training kernels on wasm (Conv2DBackpropFilter is missing upstream)${native ? " (skipped: auto picks the tensorflow backend here)" : ""}`, async () => {
    await selectBackend();
    expect(tf.getKernel(tf.Conv2DBackpropFilter, "wasm")).toBeDefined();
    const x = tf.ones([1, 4, 4, 1]);
    const dw = tf.grad((w: tf.Tensor) => tf.sum(tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 1, "valid")))(tf.ones([3, 3, 1, 1]));
    expect(Array.from(await dw.data())).toEqual(new Array(9).fill(4));
  });
});
