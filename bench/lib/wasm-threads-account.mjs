// The accounting of threaded wasm batches (ParallelWasmTrainer.step results) that
// wasm-threads-child.mjs prints: per-batch means of the threads' own CPU clocks, which a loaded
// host stretches far less than wall time, and the speedup they predict where every thread has a
// core of its own (Amdahl: the main thread's serial part plus the slowest worker).

const mean = (v) => v.reduce((a, b) => a + b, 0) / Math.max(v.length, 1);

/** A worker's CPU ms in a step: gradient, reduce and its stretch of the optimizer step. */
const workerCpu = (w) => (w.computeCpuMs ?? NaN) + (w.reduceCpuMs ?? NaN) + (w.optimizerCpuMs ?? 0);

/** Per-batch means over `steps`: serial main-thread CPU, slowest worker's gradient, reduce and optimizer CPU, all workers' CPU, waits. */
export function summarizeSteps(steps) {
  const n = Math.max(...steps.map((s) => s.workers.length));
  const workerCpuMs = Array.from({ length: n }, (_, i) => mean(steps.map((s) => (s.workers[i] ? workerCpu(s.workers[i]) : 0))));
  return {
    serialCpuMs: mean(steps.map((s) => (s.mainCpuMs?.publish ?? NaN) + (s.mainCpuMs?.apply ?? NaN))),
    computeCpuMs: mean(steps.map((s) => Math.max(...s.workers.map((w) => w.computeCpuMs ?? NaN)))),
    reduceCpuMs: mean(steps.map((s) => Math.max(...s.workers.map((w) => w.reduceCpuMs ?? NaN)))),
    optimizerCpuMs: mean(steps.map((s) => Math.max(...s.workers.map((w) => w.optimizerCpuMs ?? 0)))),
    slowestWorkerCpuMs: mean(steps.map((s) => Math.max(...s.workers.map(workerCpu)))),
    sumWorkerCpuMs: mean(steps.map((s) => s.workers.reduce((t, w) => t + workerCpu(w), 0))),
    barrierMs: mean(steps.map((s) => mean(s.workers.map((w) => w.barrierMs)))),
    runQueueMs: mean(steps.map((s) => Math.max(...s.workers.map((w) => w.runQueueMs ?? NaN)))),
    workerCpuMs,
  };
}

/**
 * One thread's CPU ms per batch over the predicted ms per threaded batch on `cores` idle cores:
 * the serial part, then the workers' CPU spread over min(threads, cores) cores (no less than
 * the slowest worker's gradient, reduce and optimizer step). Message latency (tens of
 * microseconds) is left out.
 */
export function predictIdleSpeedup(oneCpuMs, account, threads, cores) {
  const spread = account.sumWorkerCpuMs / Math.min(threads, cores);
  const parallel = Math.max(spread, account.slowestWorkerCpuMs ?? account.computeCpuMs + account.reduceCpuMs);
  return oneCpuMs / (account.serialCpuMs + parallel);
}
