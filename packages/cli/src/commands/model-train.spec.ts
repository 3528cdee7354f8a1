import { describe, expect, it } from "vitest";
import type { Dataset } from "@cohort/data";
import { fitChannelAxis } from "./model-train.js";

const images = (): Dataset => ({
  train: { x: new Float32Array(2 * 4 * 5), xShape: [2, 4, 5], y: new Int32Array(2), yShape: [2] },
  test: { x: new Float32Array(4 * 5), xShape: [1, 4, 5], y: new Int32Array(1), yShape: [1] },
  description: "two images",
} as unknown as Dataset);

describe("fitChannelAxis (cohort model train on grayscale images without a channel axis)", () => {
  it("puts the axis first for NCHW models (PyTorch, ONNX) and last for NHWC ones (Keras, TF.js)", () => {
    const nchw = images();
    fitChannelAxis(nchw, [null, 1, 4, 5]);
    expect([nchw.train.xShape, nchw.test.xShape]).toEqual([[2, 1, 4, 5], [1, 1, 4, 5]]);
    const nhwc = images();
    fitChannelAxis(nhwc, [null, 4, 5, 1]);
    expect([nhwc.train.xShape, nhwc.test.xShape]).toEqual([[2, 4, 5, 1], [1, 4, 5, 1]]);
  });

  it("leaves data that already fits, or that is not images, as it is", () => {
    const flat = images();
    fitChannelAxis(flat, [null, 20]);
    expect(flat.train.xShape).toEqual([2, 4, 5]);
  });
});
