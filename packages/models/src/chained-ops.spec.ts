import { beforeAll, describe, expect, it } from "vitest";
import { useWasm } from "./test-support.js";
import { tf } from "./tfjs.js";

describe("chained tensor methods", () => {
  beforeAll(useWasm);

  it("are installed on the one Tensor class, as @tensorflow/tfjs users expect", async () => {
    const x = tf.tensor2d([[1, 2], [3, 4]]);
    const t = x as unknown as Record<string, (...a: unknown[]) => tf.Tensor>;
    expect(Array.from(await t.div(2).data())).toEqual([0.5, 1, 1.5, 2]);
    expect(Array.from(await t.matMul(x).data())).toEqual([7, 10, 15, 22]);
    expect(t.toInt().dtype).toBe("int32");
    expect(t.flatten().shape).toEqual([4]);
    expect(t.concat(x, 0).shape).toEqual([4, 2]);
    expect(Array.from(await t.where(tf.tensor2d([[true, false], [false, true]], undefined, "bool"), tf.zeros([2, 2])).data())).toEqual([1, 0, 0, 4]);
  });

  it("throw on a disposed tensor", () => {
    const x = tf.ones([2]);
    x.dispose();
    expect(() => (x as unknown as { add(y: number): unknown }).add(1)).toThrowError(/disposed/);
  });
});
