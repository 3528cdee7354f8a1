/**
 * Dropout on the wasm backend with its mask drawn straight into the wasm heap.
 *
 * tfjs-core's dropout draws the mask into a fresh JS Float32Array (590K values a step for the seed
 * CNN's first Dropout at batch 64), uploads it, and builds the multiplier floor(u + keep) / keep
 * with three more kernels. The arrays are garbage that V8 collects on its helper threads, and in
 * the data-parallel trainer (wasm-parallel/) those threads take cores from the workers. Here the
 * multiplier is written into a tensor's heap memory in one pass: the same generator (seedrandom's
 * alea, seeded as tfjs-core seeds it: the layer's seed as a string, else Math.random()) and the
 * same float32 arithmetic, so the same mask bit for bit (heap-dropout.spec.ts compares it with
 * tfjs-core's own dropout).
 */
import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";
import seedrandom from "seedrandom";
import { tf, tfl } from "../tfjs.js";
import { heap } from "./wasm-calls.js";

interface DropoutLayer {
  rate: number;
  seed?: number;
  getNoiseShape(input: tf.Tensor): number[] | null | undefined;
  invokeCallHook(inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>): void;
  call(inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>): tf.Tensor | tf.Tensor[];
}

const DROPOUT = (tfl.layers.dropout({ rate: 0.5 }).constructor as unknown as { prototype: DropoutLayer }).prototype;

let installed = false;

/**
 * Routes tfjs-layers' Dropout (and SpatialDropout1D, its subclass) through `heapDropout` while
 * the wasm backend is active; other backends and inference keep tfjs-layers' own path.
 */
export function installHeapDropout(): void {
  if (installed) return;
  installed = true;
  const stock = DROPOUT.call;
  DROPOUT.call = function (this: DropoutLayer, inputs, kwargs) {
    const input = Array.isArray(inputs) ? (inputs.length === 1 ? inputs[0] : undefined) : inputs;
    if (!kwargs?.training || !(this.rate > 0 && this.rate < 1) || !input || tf.getBackend() !== "wasm" || input.dtype !== "float32") {
      return stock.call(this, inputs, kwargs);
    }
    return tf.tidy(() => {
      this.invokeCallHook(inputs, kwargs);
      return heapDropout(input, this.rate, this.getNoiseShape(input) ?? input.shape, this.seed);
    });
  };
}

/** x times a mask of `noiseShape` (broadcast over x) that keeps each value with probability 1 - rate, scaled by 1 / (1 - rate). */
export function heapDropout(x: tf.Tensor, rate: number, noiseShape: number[], seed: number | undefined): tf.Tensor {
  return tf.tidy(() => {
    const mask = tf.zeros(noiseShape, "float32");
    const values = heap(tf.backend() as unknown as BackendWasm, mask);
    const random = seedrandom.alea(String(seed ?? Math.random()));
    const keep = Math.fround(1 - rate);
    // tfjs-core: u stored as float32, then floor(u + keep) / keep in float32 kernels.
    for (let i = 0; i < values.length; i++) values[i] = Math.floor(Math.fround(Math.fround(random()) + keep)) / keep;
    return tf.mul(x, mask);
  });
}
