/**
 * Data-parallel training on several wasm backends: tfjs-backend-wasm runs one thread in Node (its
 * threaded build starts pthreads from blob: URLs, which worker_threads refuses), so each step
 * splits the batch across worker threads that each hold a copy of the model. Every worker writes
 * the gradient of its slice, scaled by its share of the batch, to shared memory, and the workers
 * add them up among themselves (reduce.ts): the full batch's mean gradient. Each worker then steps
 * the model's optimizer (rebuilt in the worker: Cohort's Keras/PyTorch rules or tfjs' stock ones)
 * on its stretch of the weights, in shared memory (optimizer-shard.ts); the optimizer's state
 * lives in the workers from a fit's first step until `sync`, which hands it and the weights back
 * to the model. An optimizer the workers cannot step (a custom one, clipnorm) steps on the main
 * thread after each batch, as `optimizerOnMainThread` says.
 */
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import { tf, type LayersModel } from "../tfjs.js";
import { threadTimes } from "./thread-cpu.js";
import { drawNoiseSeeds, seededNoiseLayers } from "../noise-seeds.js";
import { describeOptimizer, joinState, readState, writeState, type OptimizerSpec } from "./optimizer-shard.js";
import type { BeginMessage, InitMessage, StepMessage, WorkerReply, WorkerStepTimes } from "./protocol.js";

export interface ParallelBatch {
  /** Rows of x and y in one batch, in order. */
  x: Float32Array;
  y: Float32Array;
  rows: number;
  /** Draws the dropout seeds of this step (each worker's layers get their own); absent: unseeded masks. */
  noiseRandom?: () => number;
}

export interface StepResult {
  loss: number;
  /** Correct predictions in the batch, when the model has an accuracy metric. */
  correct?: number;
  /** Where the step's wall time went: main thread before and after the workers (0 where the workers step the optimizer), and the slowest worker. */
  ms: { publish: number; workers: number; slowestWorker: number; apply: number };
  /**
   * The main thread's CPU time (Linux) publishing the weights and stepping the optimizer: the
   * serial part, during which the workers wait.
   */
  mainCpuMs?: { publish: number; apply: number };
  /** Each worker's own account of the step (CPU times on Linux), to tell a starved thread from a slow one. */
  workers: WorkerStepTimes[];
}

/** Why this model cannot be trained in parallel, or undefined when it can. */
export function parallelUnsupported(model: LayersModel): string | undefined {
  if (!model.optimizer) return "the model is not compiled";
  const loss = (model as unknown as { loss?: unknown }).loss;
  if (typeof loss !== "string" && !(Array.isArray(loss) && loss.length === 1 && typeof loss[0] === "string")) return "its loss is a custom function, which cannot be sent to worker threads";
  if (model.inputs.length !== 1 || model.outputs.length !== 1) return "it has several inputs or outputs";
  if (model.nonTrainableWeights.length > 0) return "it has non-trainable weights (e.g. BatchNormalization statistics), which the workers would update apart";
  for (const layer of model.layers) {
    const config = layer.getConfig() as Record<string, unknown>;
    const regularized = Object.entries(config).find(([k, v]) => /regularizer$/i.test(k) && v != null);
    if (regularized) return `layer ${layer.name} has a ${regularized[0]}, whose loss the workers do not add`;
  }
  return undefined;
}

/** The default thread count: every core the process may use. */
export function defaultThreads(): number {
  return availableParallelism();
}

export class ParallelWasmTrainer {
  private readonly variables: tf.Variable[];
  private readonly weights: Float32Array;
  private readonly sum: Float32Array;
  private readonly barrier: Int32Array;
  private readonly lossName: string;
  /** How many Dropout layers the model has: a seeded step sends each worker that many seeds. */
  private readonly noiseLayers: number;
  /** Set from a fit's first step until `sync`: the workers hold the weights and optimizer state. */
  private begun = false;
  /** The model's optimizer as last described (a recompile between fits may replace it). */
  private described: { optimizer: tf.Optimizer; spec: OptimizerSpec | string } | undefined;

  private constructor(private readonly model: LayersModel, private readonly workers: Worker[], buffers: Buffers) {
    this.variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
    this.weights = new Float32Array(buffers.weights);
    this.sum = new Float32Array(buffers.sum);
    this.barrier = new Int32Array(buffers.barrier);
    const loss = (model as unknown as { loss: string | string[] }).loss;
    this.lossName = Array.isArray(loss) ? loss[0] : loss;
    this.noiseLayers = seededNoiseLayers(model).length;
  }

  /** Why the main thread steps the optimizer, or undefined when the workers do. */
  get optimizerOnMainThread(): string | undefined {
    const spec = this.optimizerSpec();
    return typeof spec === "string" ? spec : undefined;
  }

  private optimizerSpec(): OptimizerSpec | string {
    const optimizer = this.model.optimizer;
    if (this.described?.optimizer !== optimizer) this.described = { optimizer, spec: describeOptimizer(optimizer) };
    return this.described.spec;
  }

  get threads(): number {
    return this.workers.length;
  }

  /**
   * Starts `threads` workers with a copy of `model` (compiled, on any backend). Rejects with the
   * reason when the model is unsupported or a worker cannot build it (e.g. a custom layer class
   * the worker does not know); the caller then trains on one thread.
   */
  static async start(model: LayersModel, threads: number): Promise<ParallelWasmTrainer> {
    const why = parallelUnsupported(model);
    if (why) throw new Error(why);
    const size = model.trainableWeights.reduce((n, w) => n + w.shape.reduce((a: number, b) => a * (b ?? 1), 1), 0);
    const buffers: Buffers = {
      weights: new SharedArrayBuffer(size * 4),
      grads: Array.from({ length: threads }, () => new SharedArrayBuffer(size * 4)),
      sum: new SharedArrayBuffer(size * 4),
      barrier: new SharedArrayBuffer(8),
    };
    const workers = Array.from({ length: threads }, () => new Worker(workerUrl(), { execArgv: withoutConditions(process.execArgv) }));
    for (const w of workers) w.unref(); // an idle worker must not keep the party process alive
    const trainer = new ParallelWasmTrainer(model, workers, buffers);
    const accuracy = model.metricsNames.some((n) => n === "acc" || n === "accuracy");
    const topology = model.toJSON(undefined, false);
    try {
      await Promise.all(workers.map((w, i) => trainer.ask<WorkerReply>(w, { init: { topology, loss: trainer.lossName, weights: buffers.weights, grads: buffers.grads, sum: buffers.sum, barrier: buffers.barrier, index: i, threads, accuracy } satisfies InitMessage })));
    } catch (err) {
      await trainer.close();
      throw err;
    }
    return trainer;
  }

  /**
   * One optimizer step on a batch, its rows split as evenly as possible across the workers. The
   * first step after `start` or `sync` hands the model's weights and optimizer state to the
   * workers; until `sync`, the model's own weights and optimizer lag behind.
   */
  async step(batch: ParallelBatch): Promise<StepResult> {
    const t0 = performance.now();
    const c0 = threadTimes();
    if (this.optimizerOnMainThread) this.publishWeights();
    else if (!this.begun) await this.begin();
    const c1 = threadTimes();
    const t1 = performance.now();
    const xRow = batch.x.length / batch.rows;
    const yRow = batch.y.length / batch.rows;
    const xShape = this.model.inputs[0].shape.slice(1) as number[];
    const yShape = [yRow];
    // Every worker takes part, with no rows where the batch has fewer than workers: each steps the
    // optimizer for its stretch of the weights.
    const used = this.workers.length;
    Atomics.store(this.barrier, 0, 0);
    Atomics.store(this.barrier, 1, 0);
    const replies = await this.allReplies(this.workers.map((w, i) => {
      const from = Math.floor((i * batch.rows) / used);
      const to = Math.floor(((i + 1) * batch.rows) / used);
      const step: StepMessage = {
        x: batch.x.slice(from * xRow, to * xRow), xShape: [to - from, ...xShape],
        y: batch.y.slice(from * yRow, to * yRow), yShape: [to - from, ...yShape],
        scale: (to - from) / batch.rows,
        noiseSeeds: batch.noiseRandom && this.noiseLayers > 0 ? drawNoiseSeeds(this.noiseLayers, batch.noiseRandom) : undefined,
      };
      return this.ask<Extract<WorkerReply, { kind: "step" }>>(w, { step });
    }));
    const t2 = performance.now();
    const c2 = threadTimes();
    if (this.optimizerOnMainThread) this.applySummedGradients();
    const c3 = threadTimes();
    const t3 = performance.now();
    const accuracy = this.model.metricsNames.some((n) => n === "acc" || n === "accuracy");
    return {
      loss: replies.reduce((s, r) => s + r.loss, 0),
      correct: accuracy ? replies.reduce((s, r) => s + r.correct, 0) : undefined,
      ms: { publish: t1 - t0, workers: t2 - t1, slowestWorker: Math.max(...replies.map((r) => r.times.ms)), apply: t3 - t2 },
      mainCpuMs: c0 && c1 && c2 && c3 ? { publish: c1.cpuMs - c0.cpuMs, apply: c3.cpuMs - c2.cpuMs } : undefined,
      workers: replies.map((r) => r.times),
    };
  }

  /**
   * Hands the weights and the optimizer state back from the workers to the model (its variables
   * and its optimizer's slots and step count), so that the next round, the one-thread path and
   * the model's export go on from them. Call it at the end of every fit; the next step hands them
   * to the workers again.
   */
  async sync(): Promise<void> {
    if (!this.begun) return;
    this.begun = false;
    const replies = await this.allReplies(this.workers.map((w) => this.ask<Extract<WorkerReply, { kind: "state" }>>(w, { end: true })));
    const state = joinState(replies, this.variables.map((v) => v.size));
    await writeState(this.model.optimizer, this.variables.map((v) => v.name), state);
    let offset = 0;
    for (const v of this.variables) {
      tf.tidy(() => v.assign(tf.tensor(this.weights.subarray(offset, offset + v.size), v.shape, "float32")));
      offset += v.size;
    }
  }

  /** The workers take the model's weights and its optimizer with its state. */
  private async begin(): Promise<void> {
    this.publishWeights();
    // Described again: the learning rate may have changed since the last fit.
    const optimizer = describeOptimizer(this.model.optimizer) as OptimizerSpec;
    const state = await readState(this.model.optimizer, this.variables.map((v) => v.name));
    const begin: BeginMessage = { optimizer, state };
    await this.allReplies(this.workers.map((w) => this.ask<WorkerReply>(w, { begin })));
    this.begun = true;
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }

  private publishWeights(): void {
    let offset = 0;
    for (const v of this.variables) {
      this.weights.set(v.dataSync() as Float32Array, offset);
      offset += v.size;
    }
  }

  /**
   * Every worker's reply, or the first failure once all have answered: a reply left in flight
   * would be taken for the answer to the next step. A worker that fails before the barrier
   * arrives anyway (worker.ts); one that dies never does, so the first failure lets the others
   * past the barrier (they then sum a stale buffer, but the step is rejected) rather than leave
   * them blocked in Atomics.wait.
   */
  private async allReplies<T>(replies: Promise<T>[]): Promise<T[]> {
    const release = () => {
      Atomics.store(this.barrier, 1, 1);
      Atomics.store(this.barrier, 0, 2 ** 30);
      Atomics.notify(this.barrier, 0);
    };
    const settled = await Promise.allSettled(replies.map((r) => r.catch((err: unknown) => {
      release();
      throw err;
    })));
    const failed = settled.find((s): s is PromiseRejectedResult => s.status === "rejected");
    if (failed) throw failed.reason;
    return settled.map((s) => (s as PromiseFulfilledResult<T>).value);
  }

  /** Steps the optimizer with the workers' sum (the tensors copy it, as the next step overwrites it). */
  private applySummedGradients(): void {
    const sum = this.sum;
    tf.tidy(() => {
      const named: tf.NamedTensorMap = {};
      let offset = 0;
      for (const v of this.variables) {
        named[v.name] = tf.tensor(sum.subarray(offset, offset + v.size), v.shape, "float32");
        offset += v.size;
      }
      this.model.optimizer.applyGradients(named);
    });
  }

  private ask<T extends WorkerReply>(worker: Worker, message: unknown): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const cleanup = () => {
        worker.off("message", onMessage);
        worker.off("error", onError);
        worker.off("exit", onExit);
      };
      const onMessage = (reply: WorkerReply) => {
        cleanup();
        if (reply.kind === "error") reject(new Error(`wasm worker: ${reply.message}`));
        else resolve(reply as T);
      };
      const onError = (err: Error) => {
        cleanup();
        reject(new Error(`wasm worker: ${err.message}`));
      };
      const onExit = (code: number) => {
        cleanup();
        reject(new Error(`wasm worker exited (code ${code})`));
      };
      worker.on("message", onMessage);
      worker.on("error", onError);
      worker.on("exit", onExit);
      worker.postMessage(message);
    });
  }
}

interface Buffers {
  weights: SharedArrayBuffer;
  grads: SharedArrayBuffer[];
  sum: SharedArrayBuffer;
  barrier: SharedArrayBuffer;
}

/**
 * The compiled worker. Tests import this module's TypeScript source (vitest's "source"
 * condition), but a worker thread needs JavaScript: from src/ the package's dist/ copy is used,
 * which the build (`npx tsc -b`) writes.
 */
function workerUrl(): URL {
  return import.meta.url.endsWith(".ts") ? new URL("../../dist/wasm-parallel/worker.js", import.meta.url) : new URL("./worker.js", import.meta.url);
}

/**
 * The parent's Node flags minus export conditions: under vitest the parent resolves the packages'
 * TypeScript sources ("source" condition), which a plain worker thread cannot load.
 */
function withoutConditions(argv: string[]): string[] {
  const kept: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--conditions" || argv[i] === "-C") i++;
    else if (!argv[i].startsWith("--conditions=") && !argv[i].startsWith("-C=")) kept.push(argv[i]);
  }
  return kept;
}
