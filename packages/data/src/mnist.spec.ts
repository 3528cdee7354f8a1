import { describe, expect, it } from "vitest";
import { DataError } from "./errors.js";
import { MNIST_PIXELS, loadMnistDigits } from "./mnist-digits.js";
import { mnistPartition } from "./mnist-handler.js";
import { loadDataset } from "./registry.js";

const ctx = { baseDir: "." };
const load = (info: Record<string, unknown>) => loadDataset({ name: "mnist", info }, ctx);

describe("embedded MNIST digits", () => {
  it("holds about 1,000 images of each digit with pixels in [0, 1]", async () => {
    const digits = await loadMnistDigits();
    expect(digits.images.length).toBe(digits.count * MNIST_PIXELS);
    const perClass = new Array(10).fill(0);
    for (const label of digits.labels) perClass[label]++;
    for (const n of perClass) expect(n).toBeGreaterThan(800);
    expect(Math.min(...digits.images.subarray(0, 100 * MNIST_PIXELS))).toBeGreaterThanOrEqual(0);
    expect(Math.max(...digits.images.subarray(0, 100 * MNIST_PIXELS))).toBeLessThanOrEqual(1);
  });
});

describe("mnist handler", () => {
  const options = { numParties: 3, split: "iid" as const, alpha: 0.5, seed: 0, testFraction: 0.15 };

  it("gives 3 parties disjoint shards that cover all digits", async () => {
    const { count } = await loadMnistDigits();
    const p = await mnistPartition(options);
    const ids = [...p.train, ...p.test].flatMap((a) => [...a]);
    expect(ids.length).toBe(count);
    expect(new Set(ids).size).toBe(count);
  });
  it("returns the digits of the party's shard, as images or flat rows", async () => {
    const digits = await loadMnistDigits();
    const p = await mnistPartition(options);
    const d = await load({ party_index: 1, num_parties: 3, max_examples: 50 });
    expect(d.train.xShape).toEqual([50, 28, 28, 1]);
    expect(d.test.yShape).toEqual([50]);
    for (let r = 0; r < 50; r += 7) {
      const id = p.train[1][r];
      expect(d.train.y[r]).toBe(digits.labels[id]);
      expect(d.train.x.subarray(r * 784, r * 784 + 784)).toEqual(digits.images.subarray(id * 784, id * 784 + 784));
    }
    const flat = await load({ party_index: 1, num_parties: 3, max_examples: 50, shape: "flat" });
    expect(flat.train.xShape).toEqual([50, 784]);
    expect(flat.train.x).toEqual(d.train.x);
  });
  it("gives channels-first images for layout nchw and scales pixels by info.scale", async () => {
    const nhwc = await load({ party_index: 0, num_parties: 3, max_examples: 10 });
    const nchw = await load({ party_index: 0, num_parties: 3, max_examples: 10, layout: "nchw", scale: 255 });
    expect(nchw.train.xShape).toEqual([10, 1, 28, 28]);
    expect(nchw.test.xShape).toEqual([10, 1, 28, 28]);
    expect([...nchw.train.y]).toEqual([...nhwc.train.y]);
    // One channel: the same pixel order, only scaled.
    expect(nchw.train.x).toEqual(nhwc.train.x.map((v) => v * 255));
    expect(Math.max(...nchw.train.x)).toBeGreaterThan(1);
  });
  it("is deterministic for a seed and changes with it", async () => {
    const first = (seed: number) => load({ party_index: 0, num_parties: 2, seed, max_examples: 20 }).then((d) => [...d.train.y]);
    expect(await first(4)).toEqual(await first(4));
    expect(await first(4)).not.toEqual(await first(5));
  });
  it("skews class mixes under a dirichlet split", async () => {
    const maxShare = async (split: string) => {
      const d = await load({ party_index: 0, num_parties: 5, split, alpha: 0.1, seed: 3 });
      const counts = new Array(10).fill(0);
      for (const y of d.train.y) counts[y]++;
      return Math.max(...counts) / d.train.y.length;
    };
    expect(await maxShare("iid")).toBeLessThan(0.13);
    expect(await maxShare("dirichlet")).toBeGreaterThan(0.3);
  });
  it.each([
    [{ party_index: 3, num_parties: 3 }, /info\.party_index 3 is out of range for num_parties 3/],
    [{ party_index: 0, num_parties: 0 }, /info\.num_parties must be an integer >= 1, got 0/],
    [{ num_parties: 2 }, /info\.party_index is required/],
    [{ party_index: 0, num_parties: 2, split: "shards" }, /info\.split must be one of iid, dirichlet/],
    [{ party_index: 0, num_parties: 2, split: "dirichlet", alpha: 0 }, /info\.alpha must be > 0/],
    [{ party_index: 0, num_parties: 2, test_fraction: 1 }, /info\.test_fraction must be a number >= 0 < 1/],
    [{ party_index: 0, num_parties: 2, layout: "chw" }, /info\.layout must be one of nhwc, nchw/],
    [{ party_index: 0, num_parties: 2, layout: "nchw", shape: "flat" }, /info\.layout nchw needs shape image/],
    [{ party_index: 0, num_parties: 2, scale: 0 }, /info\.scale must be > 0/],
  ])("refuses bad info %j, naming the key", async (info, message) => {
    await expect(load(info)).rejects.toThrowError(message);
    await expect(load(info)).rejects.toBeInstanceOf(DataError);
  });
});
