// Training throughput of the MNIST CNNs on the selected backend, plus a per-kernel profile.
// Usage: npm run build && node packages/models/bench/throughput.mjs [backend=wasm] [batches=20]
// `trainingThroughput` is also used by the suite's bench/train.mjs (train_vs_keras, train_vs_torch).
import { pathToFileURL } from "node:url";
import { selectBackend, tf, createKerasMnistCnn, createMnistCnn } from "../dist/index.js";
import { loadMnist } from "./mnist-data.mjs";

export const BATCH = 64;

/**
 * Samples/s of `model.trainOnBatch` over `batches` batches of BATCH real MNIST digits, after 3
 * warm-up batches (XNNPACK operator setup). Returns the batches too, for a kernel profile.
 */
export async function trainingThroughput(model, train, batches) {
  const xs = [];
  const ys = [];
  for (let b = 0; b < batches; b++) {
    xs.push(train.x.slice(b * BATCH, BATCH));
    ys.push(train.y.slice(b * BATCH, BATCH));
  }
  for (let b = 0; b < Math.min(3, batches); b++) await model.trainOnBatch(xs[b], ys[b]);
  const start = performance.now();
  for (let b = 0; b < batches; b++) await model.trainOnBatch(xs[b], ys[b]);
  const secs = (performance.now() - start) / 1000;
  return { samplesPerSecond: (batches * BATCH) / secs, msPerBatch: (secs * 1000) / batches, xs, ys };
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) await main();

async function main() {
const [backendArg = "wasm", batchesArg = "20"] = process.argv.slice(2);
const batches = Number(batchesArg);
const backend = await selectBackend(backendArg);
console.log(`backend: ${backend.name} (${backend.detail})`);
const { train } = loadMnist(tf, { train: BATCH * batches, test: 0 });

// This machine's speed drifts (shared host): time one fixed XNNPACK convolution alongside, so
// that runs can be compared by the ratio rather than by raw samples/s.
{
  const x = tf.randomNormal([64, 26, 26, 32]);
  const w = tf.randomNormal([3, 3, 32, 64]);
  tf.conv2d(x, w, 1, "valid").dispose();
  const t = performance.now();
  for (let i = 0; i < 5; i++) tf.conv2d(x, w, 1, "valid").dispose();
  console.log(`reference: Conv2D 64x26x26x32 -> 64 (3x3) forward ${((performance.now() - t) / 5).toFixed(1)} ms`);
  tf.dispose([x, w]);
}

for (const [name, factory] of [["keras-cnn (32-64-128)", createKerasMnistCnn], ["demo-cnn (8-16)", createMnistCnn]]) {
  const model = factory();
  const { samplesPerSecond, msPerBatch, xs, ys } = await trainingThroughput(model, train, batches);
  console.log(`${name}: ${samplesPerSecond.toFixed(0)} samples/s (batch ${BATCH}, ${batches} batches, ${msPerBatch.toFixed(1)} ms/batch)`);

  if (process.env.PROFILE) {
    const profile = await tf.profile(() => model.trainOnBatch(xs[0], ys[0]));
    const byKernel = new Map();
    for (const k of profile.kernels) {
      const ms = typeof k.kernelTimeMs === "number" ? k.kernelTimeMs : 0;
      const e = byKernel.get(k.name) ?? { ms: 0, n: 0 };
      byKernel.set(k.name, { ms: e.ms + ms, n: e.n + 1 });
    }
    const rows = [...byKernel].sort((a, b) => b[1].ms - a[1].ms).slice(0, 15);
    for (const [k, { ms, n }] of rows) console.log(`  ${k.padEnd(28)} ${ms.toFixed(1).padStart(7)} ms  x${n}`);
  }
  tf.dispose([...xs, ...ys]);
  model.dispose();
}
console.log(`tensors alive: ${tf.memory().numTensors}, rss ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB`);
}
