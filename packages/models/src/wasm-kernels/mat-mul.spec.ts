import { beforeAll, describe, expect, it } from "vitest";
import { useWasm } from "../test-support.js";
import { tf } from "../tfjs.js";
import { expectWasmMatchesCpu } from "./compare-backends.js";
import { productOfTransposeIsCheaper } from "./mat-mul.js";

describe("wasm BatchMatMul / _FusedMatMul with transposed operands match the cpu backend", () => {
  beforeAll(useWasm);

  for (const [ta, tb] of [[false, false], [true, false], [false, true], [true, true]]) {
    it(`2-D and batched, transposeA=${ta} transposeB=${tb}`, async () => {
      await tf.setBackend("cpu");
      const a = tf.randomNormal(ta ? [37, 5] : [5, 37], 0, 1, "float32", 1);
      const b = tf.randomNormal(tb ? [11, 37] : [37, 11], 0, 1, "float32", 2);
      const a3 = tf.randomNormal(ta ? [3, 37, 5] : [3, 5, 37], 0, 1, "float32", 3);
      const b3 = tf.randomNormal(tb ? [3, 11, 37] : [3, 37, 11], 0, 1, "float32", 4);
      const bias = tf.randomNormal([11], 0, 1, "float32", 5);
      await expectWasmMatchesCpu(() => [
        tf.matMul(a, b, ta, tb),
        tf.matMul(a3, b3, ta, tb),
        tf.fused.matMul({ a, b, transposeA: ta, transposeB: tb, bias, activation: "relu" }),
      ]);
      tf.dispose([a, b, a3, b3, bias]);
    });
  }

  it("dense layer gradients (x^T.dy and dy.W^T) agree", async () => {
    await tf.setBackend("cpu");
    const x = tf.randomNormal([16, 300], 0, 1, "float32", 6);
    const w = tf.randomNormal([300, 20], 0, 1, "float32", 7);
    await expectWasmMatchesCpu(() => tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.square(tf.matMul(a, b))))([x, w]));
    tf.dispose([x, w]);
  });

  it("computes dy.W^T for a small batch as (W.dy^T)^T, bit for bit the product with W transposed first", () => {
    // 8 rows: 8 * (64 + 300) < 300 * 64, so the kernel takes the transposed product.
    const dy = tf.randomNormal([8, 64], 0, 1, "float32", 8);
    const w = tf.randomNormal([300, 64], 0, 1, "float32", 9);
    const viaTranspose = tf.matMul(dy, tf.transpose(w)).dataSync();
    const direct = tf.matMul(dy, w, false, true);
    expect(direct.shape).toEqual([8, 300]);
    const values = direct.dataSync();
    expect(values.findIndex((v, i) => v !== viaTranspose[i])).toBe(-1);
    tf.dispose([dy, w, direct]);
  });

  it("takes the transposed product only where it moves fewer values and no bias or activation follows", () => {
    const info = (...shape: number[]) => ({ shape, dataId: {}, dtype: "float32" }) as never;
    const tB = { transposeA: false, transposeB: true };
    // Dense(9216->128) backward on a worker's 32 rows: 0.3M values moved instead of 1.18M.
    expect(productOfTransposeIsCheaper({ a: info(32, 128), b: info(9216, 128) }, tB)).toBe(true);
    expect(productOfTransposeIsCheaper({ a: info(1, 32, 128), b: info(1, 9216, 128) }, { ...tB, activation: "linear" })).toBe(true);
    expect(productOfTransposeIsCheaper({ a: info(4096, 128), b: info(9216, 128) }, tB)).toBe(false);
    expect(productOfTransposeIsCheaper({ a: info(2, 32, 128), b: info(2, 9216, 128) }, tB)).toBe(false);
    expect(productOfTransposeIsCheaper({ a: info(32, 128), b: info(9216, 128), bias: info(9216) }, tB)).toBe(false);
    expect(productOfTransposeIsCheaper({ a: info(32, 128), b: info(9216, 128) }, { ...tB, activation: "relu" })).toBe(false);
    expect(productOfTransposeIsCheaper({ a: info(128, 32), b: info(9216, 128) }, { transposeA: true, transposeB: true })).toBe(false);
  });
});
