/**
 * Registers Cohort's training kernels for the wasm backend: the conv and gather gradients it lacks or runs
 * slowly, and faster versions of kernels that dominated a profile of MNIST CNN training. Call
 * before the wasm backend is initialised (kernel setup functions run at initialisation);
 * later calls are no-ops. Dropout, an op rather than a kernel, is routed too (heap-dropout.ts).
 */
import { tf } from "../tfjs.js";
import { type KernelWrapper, wrapStockKernels } from "../kernel-wrappers.js";
import { conv2DBackpropFilter } from "./conv2d-backprop-filter.js";
import { conv2DBackpropInput } from "./conv2d-backprop-input.js";
import { depthwiseBackpropFilter, depthwiseBackpropInput } from "./depthwise-backprop.js";
import { installHeapDropout } from "./heap-dropout.js";
import { sharedIdentity } from "./identity.js";
import { untransposingMatMul } from "./mat-mul.js";
import { maxPoolGrad } from "./max-pool-grad.js";
import { leadingAxesSum } from "./sum.js";
import { unsortedSegmentSum } from "./unsorted-segment-sum.js";

const BACKEND = "wasm";

/** Replaced outright: the stock kernel (if any) is not used. */
const REPLACEMENTS: Array<{ kernelName: string; kernelFunc: tf.KernelFunc }> = [
  { kernelName: tf.Conv2DBackpropInput, kernelFunc: conv2DBackpropInput as tf.KernelFunc },
  { kernelName: tf.Conv2DBackpropFilter, kernelFunc: conv2DBackpropFilter as tf.KernelFunc },
  { kernelName: tf.MaxPoolGrad, kernelFunc: maxPoolGrad as tf.KernelFunc },
  { kernelName: tf.UnsortedSegmentSum, kernelFunc: unsortedSegmentSum as tf.KernelFunc },

  { kernelName: tf.DepthwiseConv2dNativeBackpropInput, kernelFunc: depthwiseBackpropInput as tf.KernelFunc },
  { kernelName: tf.DepthwiseConv2dNativeBackpropFilter, kernelFunc: depthwiseBackpropFilter as tf.KernelFunc },
];

/** Wrapped: the stock kernel still does the work (and keeps its setup function). */
const WRAPPERS: KernelWrapper[] = [
  { kernelName: tf.BatchMatMul, wrap: untransposingMatMul },
  { kernelName: tf._FusedMatMul, wrap: untransposingMatMul },
  { kernelName: tf.Sum, wrap: leadingAxesSum },
  { kernelName: tf.Identity, wrap: sharedIdentity },
];

let registered = false;

export function registerWasmTrainingKernels(): void {
  if (registered) return;
  registered = true;
  for (const { kernelName, kernelFunc } of REPLACEMENTS) {
    if (tf.getKernel(kernelName, BACKEND)) tf.unregisterKernel(kernelName, BACKEND);
    tf.registerKernel({ kernelName, backendName: BACKEND, kernelFunc });
  }
  wrapStockKernels(BACKEND, WRAPPERS);
  installHeapDropout();
}
