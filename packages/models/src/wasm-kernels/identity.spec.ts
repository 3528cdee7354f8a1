import { beforeAll, describe, expect, it } from "vitest";
import { useWasm } from "../test-support.js";
import { tf } from "../tfjs.js";

describe("wasm Identity shares its input's memory", () => {
  beforeAll(useWasm);

  it("clones without a copy, and the clone outlives its source", async () => {
    const before = tf.memory().numDataBuffers;
    const a = tf.tensor2d([[1, 2], [3, 4]]);
    const b = tf.clone(a);
    expect(b.dataId).toBe(a.dataId);
    // One buffer for the two tensors (the stock kernel allocated a second one).
    expect(tf.memory().numDataBuffers - before).toBe(1);
    a.dispose();
    expect(Array.from(await b.data())).toEqual([1, 2, 3, 4]);
    b.dispose();
    expect(tf.memory().numDataBuffers).toBe(before);
  });

  it("leaves string tensors to the stock kernel", async () => {
    const s = tf.tensor1d(["a", "bc"], "string");
    const c = tf.clone(s);
    expect(await c.data()).toEqual(["a", "bc"]);
    tf.dispose([s, c]);
  });

  it("keeps gradients right where tfjs-core clones saved tensors", () => {
    const x = tf.tensor1d([1, -2, 3]);
    const g = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(tf.relu(v), v)))(x);
    expect(Array.from(g.dataSync())).toEqual([2, 0, 6]);
    tf.dispose([x, g]);
  });
});
