import { describe, expect, it } from "vitest";
import { type Split } from "./dataset.js";
import { DataError } from "./errors.js";
import { dataHandler, knownDataHandlers, loadDataset } from "./registry.js";
import { checkInputShape, checkSplit, validateLabels } from "./validate.js";

const split = (y: Int32Array | Float32Array, yShape: number[], xShape = [yShape[0], 28, 28, 1]): Split =>
  ({ x: new Float32Array(xShape.reduce((a, b) => a * b, 1)), xShape, y, yShape });

describe("validateLabels", () => {
  it("accepts ids in range and names the first one out of range with its index", () => {
    validateLabels(split(Int32Array.from([0, 9, 3]), [3]), 10, "mnist");
    expect(() => validateLabels(split(Int32Array.from([0, 9, 10, -1]), [4]), 10, "data/x.npz"))
      .toThrowError(/data\/x\.npz: label 10 at index 2 is outside \[0, 10\)/);
    expect(() => validateLabels(split(Int32Array.from([0, -1]), [2]), 10, "w")).toThrowError(/label -1 at index 1/);
  });
  it("checks one-hot width and float class ids", () => {
    expect(() => validateLabels(split(new Float32Array(8), [2, 4]), 10, "w")).toThrowError(/one-hot labels have 4 columns but the model has 10 classes/);
    expect(() => validateLabels(split(Float32Array.from([1, 2.5]), [2]), 10, "w")).toThrowError(/label 2.5 at index 1 is not a class id/);
  });
  it("carries a code", () => {
    try { validateLabels(split(Int32Array.from([12]), [1]), 10, "w"); } catch (err) {
      expect((err as DataError).code).toBe("data.label_out_of_range");
      return;
    }
    throw new Error("expected a throw");
  });
});

describe("checkInputShape", () => {
  const s = split(new Int32Array(5), [5]);
  it("matches with or without the batch dimension, null being a wildcard", () => {
    checkInputShape(s, [null, 28, 28, 1], "w");
    checkInputShape(s, [28, 28, 1], "w");
    checkInputShape(s, [null, null, 28, 1], "w");
  });
  it("shows both shapes when they differ", () => {
    expect(() => checkInputShape(s, [null, 784], "mnist")).toThrowError(
      "mnist: examples have shape [28, 28, 1] (x is [5, 28, 28, 1]) but the model takes [null, 784]");
    expect(() => checkInputShape(s, [28, 28, 3], "w")).toThrowError(/\[28, 28, 3\]/);
  });
});

describe("checkSplit", () => {
  it("refuses sizes that disagree with shapes or example counts", () => {
    expect(() => checkSplit(split(new Int32Array(4), [5]), "w")).toThrowError(/y holds 4 values but its shape \[5\] needs 5/);
    expect(() => checkSplit(split(new Int32Array(4), [4], [5, 2]), "w")).toThrowError(/x has 5 examples but y has 4/);
  });
});

describe("handler registry", () => {
  it("lists the known handlers when a name is unknown", async () => {
    await expect(loadDataset({ name: "imagenet", info: {} }, { baseDir: "." })).rejects.toThrowError(
      /unknown data handler 'imagenet'; known handlers: .*MnistKerasDataHandler.*csv.*mnist.*npz/);
  });
  it("resolves aliases to handlers", () => {
    expect(knownDataHandlers()).toEqual(expect.arrayContaining(["npz", "csv", "mnist", "MnistPytorchDataHandler"]));
    expect(dataHandler("NpzDataHandler")).toBe(dataHandler("npz"));
  });
});
