import { beforeAll, describe, expect, it } from "vitest";
import { useWasm } from "../test-support.js";
import { tf } from "../tfjs.js";
import { expectWasmMatchesCpu } from "./compare-backends.js";

describe("wasm UnsortedSegmentSum (the gradient of Gather, for Embedding layers)", () => {
  beforeAll(useWasm);

  it("sums rows per segment like the cpu backend, repeated and out-of-range ids included", async () => {
    await tf.setBackend("cpu");
    const x = tf.randomNormal([7, 3, 2], 0, 1, "float32", 5);
    const ids = tf.tensor1d([4, 0, 4, 2, 9, 0, 4], "int32");
    await expectWasmMatchesCpu(() => tf.unsortedSegmentSum(x, ids, 6));
    tf.dispose([x, ids]);
  });

  it("gives an embedding table's gradient on wasm", async () => {
    await tf.setBackend("wasm");
    const table = tf.variable(tf.randomNormal([5, 3], 0, 1, "float32", 2));
    const idx = tf.tensor2d([[1, 3, 1], [0, 1, 4]], undefined, "int32");
    const g = tf.grad((t: tf.Tensor) => tf.sum(tf.gather(t, idx)))(table);
    // Each row's gradient counts how often its id occurs (1 three times, 2 never).
    expect(Array.from(await g.data()).filter((_, i) => i % 3 === 0)).toEqual([1, 3, 0, 1, 1]);
    tf.dispose([table, idx, g]);
  });
});
