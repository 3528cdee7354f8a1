import { beforeAll, describe, it } from "vitest";
import { useWasm } from "../test-support.js";
import { tf } from "../tfjs.js";
import { expectWasmMatchesCpu } from "./compare-backends.js";

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
});
