// Shared pieces of the benchmark suite: options, timing, /proc sampling, a silent logger,
// an in-memory "learner" and a lean party client for memory-sensitive benchmarks.
import { spawn } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { DEFAULT_CHUNK_BYTES } from "@cohort/config";
import { createLogger } from "@cohort/telemetry";

export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;

export function silentLogger(service) {
  return createLogger({ service, level: process.env.BENCH_LOG_LEVEL ?? "silent" });
}

export function partyList(count) {
  return Array.from({ length: count }, (_, i) => ({ name: `party${i}`, token: `bench-token-of-party-${i}` }));
}

const tempDirs = [];
// A full-size run writes GBs of checkpoints: remove every run directory when the bench exits.
process.once("exit", () => { for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true }); });

/** A fresh directory under the system's temp folder, removed when this process exits. */
export async function tempDir(prefix) {
  const dir = await mkdtemp(join(tmpdir(), `cohort-bench-${prefix}-`));
  tempDirs.push(dir);
  return dir;
}

/** A float32 manifest of `params` parameters split over tensors of at most `maxTensor` elements. */
export function floatManifest(params, maxTensor = 64 * MiB) {
  const tensors = [];
  for (let left = params, i = 0; left > 0; i++) {
    const n = Math.min(left, maxTensor);
    tensors.push({ name: `layer${i}/kernel`, dtype: "float32", shape: [n] });
    left -= n;
  }
  return { tensors };
}

export const now = () => performance.now();

/** Chunk bytes of the transfer and RSS runs: BENCH_CHUNK_SIZE, else the aggregator's default (`connection.info.chunk_size`). */
export function benchChunkSize() {
  return Number(process.env.BENCH_CHUNK_SIZE ?? DEFAULT_CHUNK_BYTES);
}

/** Median of a list of numbers. */
export function median(values) {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export const rate = (bytes, ms) => bytes / (ms / 1000);
export const mbps = (bytesPerSecond) => `${(bytesPerSecond / 1e6).toFixed(0)} MB/s`;

/** A field of /proc/<pid>/status in MiB (VmHWM = peak resident set, VmRSS = current). */
export function procStatusMiB(pid, field) {
  try {
    const match = readFileSync(`/proc/${pid}/status`, "utf8").match(new RegExp(`^${field}:\\s+(\\d+) kB`, "m"));
    return match ? Number(match[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

const CHILD = fileURLToPath(new URL("./aggregator-child.mjs", import.meta.url));

/**
 * Starts an aggregator in a child process (bench/lib/aggregator-child.mjs). Resolves once it
 * listens, with its port; `done` resolves with its summary; `finish()` reads its peak RSS
 * (VmHWM) while it is still alive and then lets it exit.
 */
export async function spawnAggregator(config) {
  const childArgs = process.env.BENCH_CHILD_NODE_ARGS?.split(" ").filter(Boolean) ?? []; // e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof"
  const child = spawn(process.execPath, [...childArgs, CHILD, JSON.stringify(config)], { stdio: ["pipe", "pipe", "inherit"] });
  const events = createInterface({ input: child.stdout });
  let peakSampled = 0;
  const sampler = setInterval(() => { peakSampled = Math.max(peakSampled, procStatusMiB(child.pid, "VmHWM") ?? 0); }, 100);
  let resolvePort, rejectPort, resolveDone, rejectDone;
  const port = new Promise((res, rej) => { resolvePort = res; rejectPort = rej; });
  const done = new Promise((res, rej) => { resolveDone = res; rejectDone = rej; });
  events.on("line", (line) => {
    let event;
    try { event = JSON.parse(line); } catch { return; }
    if (event.msg !== undefined) { process.stderr.write(`${line}\n`); return; } // the child's log lines (BENCH_LOG_LEVEL)
    if (event.port) resolvePort(event.port);
    if (event.summary) resolveDone(event);
    if (event.error) { rejectPort(new Error(event.error)); rejectDone(new Error(`aggregator child: ${event.error}`)); }
  });
  child.once("exit", (code) => {
    clearInterval(sampler);
    const error = new Error(`aggregator child exited with code ${code}`);
    rejectPort(error);
    rejectDone(error);
  });
  return {
    pid: child.pid,
    port: await port,
    done,
    /** Peak RSS in MiB (the kernel's VmHWM, read before the child exits) and stops the child. */
    async finish() {
      const hwm = procStatusMiB(child.pid, "VmHWM") ?? peakSampled;
      clearInterval(sampler);
      const exited = new Promise((res) => (child.exitCode !== null ? res() : child.once("exit", res)));
      child.stdin.end();
      await exited;
      return Math.max(hwm, peakSampled);
    },
    kill() { clearInterval(sampler); if (child.exitCode === null) child.kill("SIGKILL"); },
  };
}

/**
 * A learner whose "training" adds a fixed offset to every weight (no neural network), so a
 * federation exercises join, download, upload and fusion only. `shareWeights` keeps the
 * downloaded arrays instead of copying them (large models: one copy per party, not three).
 */
export class ArithmeticLearner {
  backend = "arithmetic";
  numTestExamples = 10;
  constructor(manifest, numTrainExamples, offset, { initial = 0, shareWeights = false } = {}) {
    this.manifest = manifest;
    this.numTrainExamples = numTrainExamples;
    this.offset = offset;
    this.shareWeights = shareWeights;
    this.weights = manifest.tensors.map((t) => ({ ...t, data: new Float32Array(t.shape.reduce((a, b) => a * b, 1)).fill(initial) }));
  }
  getWeights() {
    return this.shareWeights ? this.weights : this.weights.map((t) => ({ ...t, data: t.data.slice() }));
  }
  setWeights(weights) {
    this.weights = this.shareWeights ? weights : weights.map((t) => ({ ...t, data: t.data.slice() }));
  }
  async train() {
    const started = now();
    for (const t of this.weights) {
      const data = t.data;
      for (let i = 0; i < data.length; i++) data[i] += this.offset;
    }
    return { numExamples: this.numTrainExamples, metrics: { loss: 0.5 }, seconds: (now() - started) / 1000 };
  }
  async evaluate() {
    // `probe`, a metric without a range: the aggregator refuses an accuracy outside [0, 1].
    return { numExamples: this.numTestExamples, metrics: { probe: this.weights[0].data[0], loss: 0 } };
  }
}
