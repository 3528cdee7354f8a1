import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { DataError } from "./errors.js";
import { loadDataset } from "./registry.js";

const baseDir = fileURLToPath(new URL("../test-fixtures/", import.meta.url));
const ctx = { baseDir };

/** The pixels make_data_fixtures.py wrote: image i, pixel p = (offset + 16 i + p) % 256. */
const pixels = (n: number, offset: number) => Array.from({ length: n * 16 }, (_, k) => (offset + Math.floor(k / 16) * 16 + (k % 16)) % 256);

async function errorOf(promise: Promise<unknown>): Promise<DataError> {
  try { await promise; } catch (err) { return err as DataError; }
  throw new Error("expected a rejection");
}

describe("npz handler", () => {
  it("loads IBM FL's x_train/y_train/x_test/y_test, resolving the path against baseDir", async () => {
    const d = await loadDataset({ name: "npz", info: { npz_file: "tiny_mnist.npz" } }, ctx);
    expect(d.train.xShape).toEqual([8, 4, 4]);
    expect(d.test.xShape).toEqual([3, 4, 4]);
    expect([...d.train.x]).toEqual(pixels(8, 0));
    expect([...d.test.x]).toEqual(pixels(3, 7));
    expect(d.train.y).toBeInstanceOf(Int32Array);
    expect([...d.train.y]).toEqual([0, 1, 2, 3, 0, 1, 2, 3]);
    expect(d.numClasses).toBe(4);
  });
  it("applies x_scale and add_channel_axis", async () => {
    const d = await loadDataset({ name: "npz", info: { npz_file: "tiny_mnist.npz", x_scale: 1 / 255, add_channel_axis: true } }, ctx);
    expect(d.train.xShape).toEqual([8, 4, 4, 1]);
    expect([...d.train.x]).toEqual(pixels(8, 0).map((v) => Math.fround(v / 255)));
  });
  it("puts an added channel axis first for layout nchw, under its own name and IBM FL's PyTorch one", async () => {
    const d = await loadDataset({ name: "npz", info: { npz_file: "tiny_mnist.npz", add_channel_axis: true, layout: "nchw" } }, ctx);
    expect(d.train.xShape).toEqual([8, 1, 4, 4]);
    expect([...d.train.x]).toEqual(pixels(8, 0));
    const torch = await loadDataset({ name: "MnistPytorchDataHandler", info: { npz_file: "tiny_mnist.npz", layout: "nchw" } }, ctx);
    expect(torch.test.xShape).toEqual([3, 1, 4, 4]);
    await expect(loadDataset({ name: "npz", info: { npz_file: "tiny_mnist.npz", layout: "NCHW" } }, ctx)).rejects.toThrow(/info\.layout must be one of nhwc, nchw/);
  });
  it("scales and adds channels by default under IBM FL's MNIST handler names, where IBM's handlers put them", async () => {
    for (const [name, shape] of [["MnistKerasDataHandler", [8, 4, 4, 1]], ["MnistTFDataHandler", [8, 4, 4, 1]], ["MnistPytorchDataHandler", [8, 1, 4, 4]]] as const) {
      const d = await loadDataset({ name, info: { npz_file: "tiny_mnist.npz" } }, ctx);
      expect(d.train.xShape).toEqual(shape);
      expect([...d.test.x]).toEqual(pixels(3, 7).map((v) => Math.fround(v / 255)));
    }
    const channelsLast = await loadDataset({ name: "MnistPytorchDataHandler", info: { npz_file: "tiny_mnist.npz", layout: "nhwc" } }, ctx);
    expect(channelsLast.train.xShape).toEqual([8, 4, 4, 1]);
  });
  it("keeps 2-D float one-hot labels as float32", async () => {
    const d = await loadDataset({ name: "npz", info: { npz_file: "onehot.npz" } }, ctx);
    expect(d.train.y).toBeInstanceOf(Float32Array);
    expect(d.train.yShape).toEqual([8, 4]);
    expect(Array.from({ length: 8 }, (_, i) => d.train.y.subarray(i * 4, i * 4 + 4).indexOf(1))).toEqual([0, 1, 2, 3, 0, 1, 2, 3]);
    expect(d.numClasses).toBe(4);
  });
  it("reads separate train_file and test_file with plain x / y names", async () => {
    const d = await loadDataset({ name: "npz", info: { train_file: "train_xy.npz", test_file: "test_xy.npz" } }, ctx);
    expect([...d.train.x]).toEqual(pixels(8, 0));
    expect([...d.test.y]).toEqual([3, 2, 1]);
    expect(d.test.y).toBeInstanceOf(Int32Array);
  });
  it("names the missing file, as written and as resolved", async () => {
    const err = await errorOf(loadDataset({ name: "npz", info: { npz_file: "nope/missing.npz" } }, ctx));
    expect(err.code).toBe("data.file_missing");
    expect(err.message).toContain("nope/missing.npz (resolved to ");
  });
  it("names a missing array and its file, listing the arrays present", async () => {
    const err = await errorOf(loadDataset({ name: "npz", info: { npz_file: "no_test.npz" } }, ctx));
    expect(err.code).toBe("data.array_missing");
    expect(err.message).toMatch(/no_test\.npz has no array 'x_test'; it holds 'x_train', 'y_train'/);
  });
  it("refuses x and y of different lengths", async () => {
    const err = await errorOf(loadDataset({ name: "npz", info: { npz_file: "mismatch.npz" } }, ctx));
    expect(err.code).toBe("data.length_mismatch");
    expect(err.message).toMatch(/mismatch\.npz: x_train has 8 examples but y_train has 7 labels/);
  });
  it("says which keys are needed when info has none of them", async () => {
    const err = await errorOf(loadDataset({ name: "npz", info: {} }, ctx));
    expect(err.message).toMatch(/npz_file.*train_file and test_file/);
  });
});
