/** Shared by the graph trainer's specs: deterministic batches and a step that must build. */
import { type LayersModel, tf } from "../tfjs.js";
import { GraphTrainingStep } from "./graph-step.js";

/** Deterministic values in [0, 1) from an LCG (the same as testdata/graph-training/gen.py's). */
export function lcg(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (s * 1664525 + 1013904223) >>> 0;
    out[i] = s / 2 ** 32;
  }
  return out;
}

export const oneHot = (n: number, classes: number) => tf.tidy(() => tf.cast(tf.oneHot(tf.tensor1d(Array.from({ length: n }, (_, i) => (i * 7) % classes), "int32"), classes), "float32"));

export function step(model: LayersModel): GraphTrainingStep {
  const s = GraphTrainingStep.create(model);
  if (typeof s === "string") throw new Error(`unsupported: ${s}`);
  return s;
}

