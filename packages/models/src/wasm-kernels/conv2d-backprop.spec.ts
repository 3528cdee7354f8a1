import { beforeAll, describe, expect, it } from "vitest";
import { useWasm } from "../test-support.js";
import { tf, type Tensor } from "../tfjs.js";
import { expectWasmMatchesCpu } from "./compare-backends.js";

type Pad = "same" | "valid" | number | tf.backend_util.ExplicitPadding;
interface Case { n: number; h: number; w: number; ci: number; co: number; k: [number, number]; s: [number, number]; pad: Pad }

// Strides 1-3, odd and even kernels, leftovers (valid with a stride that does not divide),
// explicit pads, one and many input channels.
const CASES: Case[] = [
  { n: 2, h: 9, w: 9, ci: 3, co: 4, k: [3, 3], s: [1, 1], pad: "valid" },
  { n: 2, h: 9, w: 8, ci: 3, co: 4, k: [3, 3], s: [1, 1], pad: "same" },
  { n: 3, h: 10, w: 11, ci: 2, co: 5, k: [3, 2], s: [2, 2], pad: "valid" },
  { n: 3, h: 10, w: 11, ci: 2, co: 5, k: [4, 4], s: [2, 3], pad: "same" },
  { n: 2, h: 12, w: 12, ci: 4, co: 3, k: [5, 5], s: [3, 3], pad: "same" },
  { n: 2, h: 7, w: 9, ci: 3, co: 2, k: [2, 3], s: [3, 2], pad: "valid" },
  { n: 2, h: 8, w: 8, ci: 3, co: 4, k: [3, 3], s: [1, 1], pad: 1 },
  { n: 2, h: 8, w: 9, ci: 3, co: 4, k: [3, 3], s: [2, 1], pad: [[0, 0], [2, 0], [1, 3], [0, 0]] },
  { n: 4, h: 28, w: 28, ci: 1, co: 8, k: [5, 5], s: [1, 1], pad: "valid" },
  { n: 3, h: 13, w: 13, ci: 16, co: 32, k: [3, 3], s: [1, 1], pad: "valid" },
  { n: 2, h: 10, w: 9, ci: 5, co: 3, k: [3, 3], s: [2, 2], pad: [[0, 0], [1, 2], [0, 1], [0, 0]] },
  { n: 2, h: 10, w: 9, ci: 5, co: 3, k: [3, 4], s: [2, 3], pad: "same" },
];

const label = (c: Case) => `n${c.n} ${c.h}x${c.w}x${c.ci}->${c.co} k${c.k} s${c.s} pad ${JSON.stringify(c.pad)}`;

describe("wasm Conv2DBackpropInput / Conv2DBackpropFilter match the cpu backend", () => {
  beforeAll(useWasm);

  for (const c of CASES) {
    it(label(c), async () => {
      await tf.setBackend("cpu");
      const x = tf.randomNormal([c.n, c.h, c.w, c.ci], 0, 1, "float32", 1) as tf.Tensor4D;
      const filter = tf.randomNormal([c.k[0], c.k[1], c.ci, c.co], 0, 1, "float32", 2) as tf.Tensor4D;
      const dy = tf.randomNormal(tf.conv2d(x, filter, c.s, c.pad as "same").shape, 0, 1, "float32", 3);
      const attrs = { strides: c.s, pad: c.pad, dataFormat: "NHWC", dimRoundingMode: undefined };
      await expectWasmMatchesCpu(() => [
        tf.engine().runKernel(tf.Conv2DBackpropInput, { dy, filter }, { ...attrs, inputShape: x.shape } as unknown as tf.NamedAttrMap) as Tensor,
        tf.engine().runKernel(tf.Conv2DBackpropFilter, { x, dy }, { ...attrs, filterShape: filter.shape } as unknown as tf.NamedAttrMap) as Tensor,
      ]);
      tf.dispose([x, filter, dy]);
    });
  }

  it("tf.grads through conv2d agree end to end (batch 5, stride 2, same)", async () => {
    await tf.setBackend("cpu");
    const x = tf.randomNormal([5, 11, 11, 3], 0, 1, "float32", 7);
    const w = tf.randomNormal([3, 3, 3, 6], 0, 1, "float32", 8);
    const f = (a: Tensor, b: Tensor) => tf.sum(tf.square(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 2, "same")));
    await expectWasmMatchesCpu(() => tf.grads(f)([x, w]));
  });

  it("leaks no tensors", async () => {
    await tf.setBackend("wasm");
    const x = tf.randomNormal([2, 9, 9, 3]);
    const dy = tf.randomNormal([2, 4, 4, 4]);
    const w = tf.randomNormal([3, 3, 3, 4]);
    const before = tf.memory().numTensors;
    const attrs = { strides: 2, pad: "valid", dataFormat: "NHWC" };
    tf.dispose([
      tf.engine().runKernel(tf.Conv2DBackpropInput, { dy, filter: w }, { ...attrs, inputShape: x.shape } as unknown as tf.NamedAttrMap) as Tensor,
      tf.engine().runKernel(tf.Conv2DBackpropFilter, { x, dy }, { ...attrs, filterShape: w.shape }) as Tensor,
    ]);
    expect(tf.memory().numTensors).toBe(before);
    // Intermediates live only in the wasm backend's own table, which must not grow either.
    const backend = tf.backend() as unknown as { dataIdMap: { numDataIds(): number } };
    const ids = backend.dataIdMap.numDataIds();
    tf.dispose(tf.engine().runKernel(tf.Conv2DBackpropFilter, { x, dy }, { ...attrs, filterShape: w.shape }) as Tensor);
    expect(backend.dataIdMap.numDataIds()).toBe(ids);
    tf.dispose([x, dy, w]);
  });
});
