// train_vs_keras, train_vs_torch: samples/s of the seed guide's Keras MNIST CNN
// (createKerasMnistCnn) trained with trainOnBatch, Adam, on batches of 64 real MNIST digits, on
// each TF.js backend present (wasm always; tensorflow where tfjs-node has a binding), divided by
// the samples/s of the same model, batch and optimizer on Keras 3 over TensorFlow
// (bench/keras_cnn.py) and on PyTorch (bench/pytorch_cnn.py), all timed in this run with the
// same number of threads (all cores; tfjs-wasm runs one thread in Node whatever it is given).
// The frameworks come from COHORT_BENCH_PYTHON (CI: the tensorflow-cpu 2.21 + torch 2.13 venv it
// builds), else python3; a figure whose framework is missing is skipped with the reason.
// train_vs_keras / train_vs_torch are for the backend `auto` picks (what a party trains on);
// each backend's own pair is reported as train_vs_keras_<backend>, train_vs_torch_<backend>.
// wasm_threads_vs_one: the same model and batch trained data-parallel on 2 wasm worker threads
// (the party's `threads`) over one thread, interleaved in one process (bench/lib/wasm-threads-child.mjs);
// wasm_threads_vs_one_<n> for each count measured (all cores too, where that is more than 2); the
// detail adds each thread count's CPU account and the speedup it predicts on idle cores
// (lib/wasm-threads-account.mjs), which the host's load does not depress as it does wall time.
import { execFileSync } from "node:child_process";
import os from "node:os";
import { fileURLToPath } from "node:url";
import { installedNativeBinding } from "@cohort/models";

const PYTHON = process.env.COHORT_BENCH_PYTHON ?? "python3";
const CHILD = fileURLToPath(new URL("./lib/train-child.mjs", import.meta.url));
const THREADS_CHILD = fileURLToPath(new URL("./lib/wasm-threads-child.mjs", import.meta.url));
const script = (name) => fileURLToPath(new URL(`./${name}`, import.meta.url));

export async function trainVsFrameworks({ full }) {
  const threads = os.availableParallelism();
  const steps = full ? 40 : 15;
  const backends = installedNativeBinding() ? ["tensorflow", "wasm"] : ["wasm"];
  const tfjs = Object.fromEntries(backends.map((b) => [b, tfjsThroughput(b, b === "wasm" ? (full ? 30 : 8) : steps)]));
  const baselines = { keras: python("keras_cnn.py", steps, threads), torch: python("pytorch_cnn.py", steps, threads) };
  const figures = {};
  const ratios = {};
  const lines = backends.map((b) => `TF.js ${b} (${tfjs[b].detail}): ${tfjs[b].samplesPerSecond.toFixed(0)} samples/s (${tfjs[b].msPerBatch.toFixed(0)} ms/batch, ${tfjs[b].batches} batches)`);
  const skipped = [];
  for (const [name, baseline] of Object.entries(baselines)) {
    if (!baseline.ok) {
      skipped.push(`train_vs_${name} skipped: ${baseline.reason}`);
      continue;
    }
    lines.push(`${baseline.framework} (${baseline.threads} threads): ${baseline.samples_per_second.toFixed(0)} samples/s`);
    figures[`train_vs_${name}`] = tfjs[backends[0]].samplesPerSecond / baseline.samples_per_second;
    for (const b of backends) ratios[`train_vs_${name}_${b}`] = tfjs[b].samplesPerSecond / baseline.samples_per_second;
  }
  const counts = [...new Set([2, threads])];
  // Many short rounds: the host's slow phases last seconds and hit one leg of a round, so the
  // median of three long ones swung by 0.1 between runs. 30 warm-up batches a path: the threads
  // reach their steady speed after about 20 (bench/lib/wasm-threads-child.mjs).
  const scaling = wasmThreads(full ? 4 : 2, full ? 15 : 13, counts, 30);
  figures.wasm_threads_vs_one = scaling.speedup[2];
  for (const n of counts) ratios[`wasm_threads_vs_one_${n}`] = scaling.speedup[n];
  lines.push(wasmThreadsDetail(scaling, counts));
  return { figures, ratios, detail: lines.join("; "), skipped: skipped.length ? skipped.join("; ") : undefined };
}

function wasmThreads(batches, rounds, counts, warmUp) {
  const out = execFileSync(process.execPath, [THREADS_CHILD, String(batches), String(rounds), counts.join(","), String(warmUp)], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  return JSON.parse(out.trim().split("\n").pop());
}

function wasmThreadsDetail(s, counts) {
  const each = counts.map((n) => `${n} threads ${s.parallelMs[n].toFixed(0)} ms/batch (per round ${s.range[n].map((r) => r.toFixed(2)).join(", ")})`);
  const cpu = (v) => (Number.isFinite(v) ? v.toFixed(0) : "?");
  const accounts = counts.map((n) => {
    const a = s.account[n];
    return `${n} threads: main thread ${cpu(a.serialCpuMs)} (serial), slowest worker's gradient ${cpu(a.computeCpuMs)} + reduce ${cpu(a.reduceCpuMs)} + optimizer ${cpu(a.optimizerCpuMs)}, all workers ${cpu(a.sumWorkerCpuMs)}, `
      + `waits at the barrier ${cpu(a.barrierMs)} and for a core ${cpu(a.runQueueMs)} ms wall -> ${Number.isFinite(a.predicted) ? a.predicted.toFixed(2) : "?"}x on idle cores`;
  });
  return `wasm data-parallel, ${s.rounds} interleaved rounds of ${s.batches} batches: 1 thread ${s.oneMs.toFixed(0)} ms/batch, ${each.join(", ")}; `
    + `CPU ms a batch (thread clocks): 1 thread ${cpu(s.oneCpu)}; ${accounts.join("; ")}; `
    + `load average ${s.load.map((l) => l.toFixed(1)).join(" -> ")}, cores this process got (spin test) ${s.coresAvailable.map((c) => c.toFixed(2)).join(" -> ")} of ${s.cores}`;
}

function tfjsThroughput(backend, batches) {
  const out = execFileSync(process.execPath, [CHILD, backend, String(batches)], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  return JSON.parse(out.trim().split("\n").pop());
}

function python(name, steps, threads) {
  try {
    const out = execFileSync(PYTHON, [script(name), String(steps), String(threads)], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    const result = JSON.parse(out.trim().split("\n").pop());
    return { ok: true, ...result, framework: result.framework ?? `PyTorch ${result.torch}` };
  } catch (error) {
    const why = String(error.stderr || error.message).trim().split("\n").pop();
    return { ok: false, reason: `${name} on ${PYTHON} failed (set COHORT_BENCH_PYTHON to a Python with TensorFlow, Keras and PyTorch): ${why}` };
  }
}
