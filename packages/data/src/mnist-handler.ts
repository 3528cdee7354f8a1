import { takeRows } from "./arrays.js";
import { type DataContext, type DataHandler, type Dataset, type Split } from "./dataset.js";
import { DataError } from "./errors.js";
import { optionalChoice, optionalNumber, requiredNumber } from "./info.js";
import { MNIST_CLASSES, MNIST_PIXELS, loadMnistDigits } from "./mnist-digits.js";
import { type Partition, type PartitionOptions, partitionByClass } from "./partition.js";

/**
 * The embedded MNIST digits, split among `num_parties` parties; this party takes shard
 * `party_index`. See partition.ts for how the held-out test set and the shards are drawn.
 *
 * info: party_index (0-based), num_parties, split ("iid" | "dirichlet"), alpha (dirichlet,
 * default 0.5), seed (default 0), test_fraction (default 0.15), max_examples (caps train and
 * test each, for quick runs), shape ("image": [n, 28, 28, 1], channels last, the default;
 * "flat": [n, 784]), layout ("nhwc", the default, or "nchw": [n, 1, 28, 28], the channels-first
 * input a PyTorch model takes; images only), scale (pixels times this, default 1: models trained
 * on raw 0..255 pixels, as some Keras examples are, want 255).
 */

const WHERE = "data handler mnist";

export interface MnistOptions extends PartitionOptions {
  partyIndex: number;
  maxExamples?: number;
  shape: "image" | "flat";
  layout: "nhwc" | "nchw";
  scale: number;
}

export function mnistOptions(info: Record<string, unknown>): MnistOptions {
  const numParties = requiredNumber(info, "num_parties", WHERE, { integer: true, min: 1 });
  const partyIndex = requiredNumber(info, "party_index", WHERE, { integer: true, min: 0 });
  if (partyIndex >= numParties) {
    throw new DataError("data.bad_info", `${WHERE}: info.party_index ${partyIndex} is out of range for num_parties ${numParties}; expected 0..${numParties - 1}`);
  }
  const split = optionalChoice(info, "split", WHERE, ["iid", "dirichlet"] as const) ?? "iid";
  const alpha = optionalNumber(info, "alpha", WHERE) ?? 0.5;
  const shape = optionalChoice(info, "shape", WHERE, ["image", "flat"] as const) ?? "image";
  const layout = optionalChoice(info, "layout", WHERE, ["nhwc", "nchw"] as const) ?? "nhwc";
  // A flat row has no channel axis to place; saying nchw there is a mistake worth reporting.
  if (shape === "flat" && layout === "nchw") throw new DataError("data.bad_info", `${WHERE}: info.layout nchw needs shape image (flat rows have no channel axis)`);
  if (!(alpha > 0)) throw new DataError("data.bad_info", `${WHERE}: info.alpha must be > 0, got ${alpha}`);
  const scale = optionalNumber(info, "scale", WHERE) ?? 1;
  if (!(scale > 0)) throw new DataError("data.bad_info", `${WHERE}: info.scale must be > 0, got ${scale}`);
  return {
    numParties, partyIndex, split, alpha,
    seed: optionalNumber(info, "seed", WHERE, { integer: true }) ?? 0,
    testFraction: optionalNumber(info, "test_fraction", WHERE, { min: 0, below: 1 }) ?? 0.15,
    maxExamples: optionalNumber(info, "max_examples", WHERE, { integer: true, min: 1 }),
    shape, layout,
    scale,
  };
}

/** Every party's shard of the embedded digits (indices into loadMnistDigits()). */
export async function mnistPartition(options: PartitionOptions): Promise<Partition> {
  const digits = await loadMnistDigits();
  return partitionByClass(digits.labels, MNIST_CLASSES, options);
}

async function loadMnist(info: Record<string, unknown>, _ctx: DataContext): Promise<Dataset> {
  const options = mnistOptions(info);
  const digits = await loadMnistDigits();
  const partition = partitionByClass(digits.labels, MNIST_CLASSES, options);
  const cap = (ids: Int32Array) => (options.maxExamples !== undefined ? ids.subarray(0, options.maxExamples) : ids);
  // With one channel, NHWC and NCHW hold the pixels in the same order: only the shape differs.
  const imageShape = options.layout === "nchw" ? [1, 28, 28] : [28, 28, 1];
  const scaled = (x: Float32Array) => (options.scale === 1 ? x : x.map((v) => v * options.scale));
  const toSplit = (ids: Int32Array): Split => ({
    x: scaled(takeRows(digits.images, MNIST_PIXELS, ids)),
    xShape: options.shape === "image" ? [ids.length, ...imageShape] : [ids.length, MNIST_PIXELS],
    y: takeRows(digits.labels, 1, ids),
    yShape: [ids.length],
  });
  const train = toSplit(cap(partition.train[options.partyIndex]));
  const test = toSplit(cap(partition.test[options.partyIndex]));
  const how = options.split === "iid" ? "iid" : `dirichlet(alpha=${options.alpha})`;
  return {
    train, test, numClasses: MNIST_CLASSES,
    description: `mnist (embedded, ${digits.count} digits) party ${options.partyIndex + 1}/${options.numParties}, ${how} split, seed ${options.seed}: ` +
      `${train.xShape[0]} train / ${test.xShape[0]} test`,
  };
}

export const mnistHandler: DataHandler = { name: "mnist", load: loadMnist };
