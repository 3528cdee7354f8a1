/**
 * Small helpers for kernels composed of other wasm kernels. Composite kernels call the
 * registered kernel functions directly (not tf ops) so intermediates never enter the engine's
 * bookkeeping or the gradient tape; each helper's caller disposes what it created.
 */
import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";
import { tf, type TensorInfo } from "../tfjs.js";

export type Pads = [[number, number], [number, number], [number, number], [number, number]];

export function runWasmKernel(name: string, backend: BackendWasm, inputs: Record<string, TensorInfo>, attrs: object): TensorInfo {
  const kernel = tf.getKernel(name, "wasm");
  if (!kernel) throw new Error(`wasm kernel ${name} is not registered`);
  const out = kernel.kernelFunc({ inputs, backend, attrs: attrs as tf.NamedAttrMap });
  return Array.isArray(out) ? out[0] : out;
}

/** Stride-1 (optionally dilated) NHWC convolution with explicit padding, on XNNPACK. */
export function conv2d(backend: BackendWasm, x: TensorInfo, filter: TensorInfo, pads: Pads, dilations: [number, number] = [1, 1]): TensorInfo {
  return runWasmKernel("Conv2D", backend, { x, filter }, { strides: [1, 1], pad: pads, dataFormat: "NHWC", dilations, dimRoundingMode: undefined });
}

export function transpose(backend: BackendWasm, x: TensorInfo, perm: number[]): TensorInfo {
  return runWasmKernel("Transpose", backend, { x }, { perm });
}

export function slice(backend: BackendWasm, x: TensorInfo, begin: number[], size: number[]): TensorInfo {
  return runWasmKernel("Slice", backend, { x }, { begin, size });
}

export function dispose(backend: BackendWasm, ...infos: TensorInfo[]): void {
  for (const info of infos) backend.disposeData(info.dataId);
}

/** Float32 view of a tensor in the wasm heap; take it after the last allocation (the heap may grow and move). */
export function heap(backend: BackendWasm, info: TensorInfo): Float32Array {
  return backend.typedArrayFromHeap(info) as Float32Array;
}

export function stridePair(s: number | [number, number]): [number, number] {
  return typeof s === "number" ? [s, s] : s;
}
