import { describe, expect, it } from "vitest";
import { selectBackend, tfl } from "@cohort/models";
import { accuracyOf } from "./global-evaluation.js";

describe("accuracyOf", () => {
  it("counts the examples whose largest output is their class, for class ids and one-hot labels, across batches", async () => {
    await selectBackend("cpu");
    // A fixed linear model: class = argmax(x) for 3 features.
    const model = tfl.sequential({ layers: [tfl.layers.dense({ units: 3, inputShape: [3], useBias: false, kernelInitializer: "identity" })] });
    const rows = 300; // more than one evaluation batch of 256
    const x = new Float32Array(rows * 3);
    const y = new Int32Array(rows);
    for (let i = 0; i < rows; i++) {
      x[i * 3 + (i % 3)] = 1;
      y[i] = i % 10 === 0 ? (i + 1) % 3 : i % 3; // every tenth label is wrong: 30 of 300
    }
    expect(await accuracyOf(model, { x, xShape: [rows, 3], y, yShape: [rows] })).toBeCloseTo(0.9, 10);
    const oneHot = new Float32Array(rows * 3);
    y.forEach((label, i) => { oneHot[i * 3 + label] = 1; });
    expect(await accuracyOf(model, { x, xShape: [rows, 3], y: oneHot, yShape: [rows, 3] })).toBeCloseTo(0.9, 10);
    model.dispose();
  });
});
