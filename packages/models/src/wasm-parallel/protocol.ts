/** Messages between the main thread and a wasm gradient worker (see parallel-trainer.ts). */

export interface InitMessage {
  /** model.toJSON(undefined, false): the topology, deserialized in the worker. */
  topology: unknown;
  /** The compiled loss's name (a tfjs-layers loss identifier); custom loss functions are not sent. */
  loss: string;
  /** Trainable weights, concatenated in model.trainableWeights order, rewritten by the main thread before each step. */
  weights: SharedArrayBuffer;
  /** This worker's gradient of its slice, same layout as `weights`, scaled so the workers' sum is the batch mean. */
  grads: SharedArrayBuffer;
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
}

export type WorkerReply =
  | { kind: "ready"; backend: string }
  | { kind: "step"; loss: number; correct: number; ms: number; cpuMs?: number }
  | { kind: "error"; message: string };
