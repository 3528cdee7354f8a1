/** Messages between the main thread and a wasm gradient worker (see parallel-trainer.ts). */
import type { OptimizerSpec, OptimizerState, Segment } from "./optimizer-shard.js";

export interface InitMessage {
  /** model.toJSON(undefined, false): the topology, deserialized in the worker. */
  topology: unknown;
  /** The compiled loss's name (a tfjs-layers loss identifier); custom loss functions are not sent. */
  loss: string;
  /** Trainable weights, concatenated in model.trainableWeights order, rewritten by the main thread before each step. */
  weights: SharedArrayBuffer;
  /** Every worker's gradient of its slice (same layout as `weights`), scaled so their sum is the batch mean; `grads[index]` is this worker's. */
  grads: SharedArrayBuffer[];
  /** The workers' sum of `grads`, each worker adding up its own stretch of it. */
  sum: SharedArrayBuffer;
  /**
   * Two Int32s, reset by the main thread before each step: [0] counts the workers that have
   * written their gradient, [1] is set when one failed (the others then step no optimizer).
   */
  barrier: SharedArrayBuffer;
  /** This worker's position among the workers. */
  index: number;
  /** How many workers there are: each sums, and steps the optimizer for, stretch `index` of them. */
  threads: number;
  /** Whether to count correct predictions (the model has an accuracy metric). */
  accuracy: boolean;
}

export interface StepMessage {
  x: Float32Array;
  xShape: number[];
  y: Float32Array;
  yShape: number[];
  /** The slice's share of the batch (slice size / batch size). */
  scale: number;
  /** This worker's seeds for the model's Dropout layers in this step (seeded training); absent: unseeded masks. */
  noiseSeeds?: number[];
}

/**
 * Before the first step of a fit where the workers step the optimizer: load the weights from the
 * shared buffer and build the optimizer with `state`, the main thread's (whole variables; each
 * worker keeps its segments).
 */
export interface BeginMessage {
  optimizer: OptimizerSpec;
  state: OptimizerState;
}

/** Where a worker's step went, from its own thread (ms). */
export interface WorkerStepTimes {
  /** Wall time from receiving the step to replying. */
  ms: number;
  /** Its thread's CPU time: the gradient of its slice (weights in, forward, backward, gradient out). */
  computeCpuMs?: number;
  /** Wall time waiting at the barrier for the other workers' gradients. */
  barrierMs: number;
  /** Its thread's CPU time adding up its stretch of the gradients. */
  reduceCpuMs?: number;
  /** Its thread's CPU time stepping the optimizer on its stretch (0 when the main thread steps it). */
  optimizerCpuMs?: number;
  /** Time its thread was runnable but had no core (other threads or processes held them). */
  runQueueMs?: number;
}

export type WorkerReply =
  | { kind: "ready"; backend: string }
  | { kind: "step"; loss: number; correct: number; times: WorkerStepTimes }
  | { kind: "begun" }
  /** The optimizer state of the worker's segments (slots by segment index), at the end of a fit. */
  | { kind: "state"; state: OptimizerState; segments: Segment[] }
  | { kind: "error"; message: string };
