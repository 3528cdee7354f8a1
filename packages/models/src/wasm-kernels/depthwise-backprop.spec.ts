import { beforeAll, describe, it } from "vitest";
import { useWasm } from "../test-support.js";
import { tf, type Tensor } from "../tfjs.js";
import { expectWasmMatchesCpu } from "./compare-backends.js";

type Pad = "same" | "valid" | number;
interface Case { n: number; h: number; w: number; c: number; m: number; k: [number, number]; s: [number, number]; d: [number, number]; pad: Pad }

// Multipliers 1 to 3, strides, padding modes, one and several channels. No dilation: tfjs' gradient
// of depthwiseConv2d refuses dilation > 1 (and the PyTorch and Keras loaders refuse it for depthwise).
const CASES: Case[] = [
  { n: 2, h: 9, w: 9, c: 3, m: 1, k: [3, 3], s: [1, 1], d: [1, 1], pad: "valid" },
  { n: 2, h: 8, w: 7, c: 4, m: 2, k: [3, 3], s: [1, 1], d: [1, 1], pad: "same" },
  { n: 3, h: 10, w: 11, c: 2, m: 3, k: [3, 2], s: [2, 2], d: [1, 1], pad: "same" },
  { n: 2, h: 7, w: 9, c: 5, m: 1, k: [2, 3], s: [2, 1], d: [1, 1], pad: 1 },
];

describe("wasm DepthwiseConv2dNativeBackpropInput / BackpropFilter match the cpu backend", () => {
  beforeAll(useWasm);

  for (const c of CASES) {
    it(`n${c.n} ${c.h}x${c.w}x${c.c} x${c.m} k${c.k} s${c.s} d${c.d} pad ${c.pad}`, async () => {
      await tf.setBackend("cpu");
      const x = tf.randomNormal([c.n, c.h, c.w, c.c], 0, 1, "float32", 1) as tf.Tensor4D;
      const filter = tf.randomNormal([c.k[0], c.k[1], c.c, c.m], 0, 1, "float32", 2) as tf.Tensor4D;
      const dy = tf.randomNormal(tf.depthwiseConv2d(x, filter, c.s, c.pad, "NHWC", c.d).shape, 0, 1, "float32", 3);
      const attrs = { strides: c.s, pad: c.pad, dilations: c.d, dimRoundingMode: undefined };
      await expectWasmMatchesCpu(() => [
        tf.engine().runKernel(tf.DepthwiseConv2dNativeBackpropInput, { dy, filter }, { ...attrs, inputShape: x.shape } as unknown as tf.NamedAttrMap) as Tensor,
        tf.engine().runKernel(tf.DepthwiseConv2dNativeBackpropFilter, { x, dy }, { ...attrs, filterShape: filter.shape } as unknown as tf.NamedAttrMap) as Tensor,
      ]);
      tf.dispose([x, filter, dy]);
    });
  }

  it("tf.grads through depthwiseConv2d agree end to end (stride 2, same, multiplier 2)", async () => {
    await tf.setBackend("cpu");
    const x = tf.randomNormal([3, 11, 11, 4], 0, 1, "float32", 7);
    const w = tf.randomNormal([3, 3, 4, 2], 0, 1, "float32", 8);
    const f = (a: Tensor, b: Tensor) => tf.sum(tf.square(tf.depthwiseConv2d(a as tf.Tensor4D, b as tf.Tensor4D, 2, "same")));
    await expectWasmMatchesCpu(() => tf.grads(f)([x, w]));
  });
});
