/**
 * Registers Cohort's kernels for the tensorflow backend (tfjs-node): replacements for stock
 * kernels that a profile of the seed CNN's training showed spending far more than the TensorFlow
 * op they compute. Call once the backend is registered (importing tfjs-node does that); later
 * calls are no-ops.
 */
import { tf } from "../tfjs.js";
import { type KernelWrapper, wrapStockKernels } from "../kernel-wrappers.js";
import { biasGradSum } from "./bias-sum.js";
import { registerNativeReluGrad } from "./relu-grad.js";
import { twoOpStep } from "./step.js";

const BACKEND = "tensorflow";

/** Wrapped: the stock kernel still serves the cases the replacement does not cover. */
const WRAPPERS: KernelWrapper[] = [
  { kernelName: tf.Step, wrap: twoOpStep },
  { kernelName: tf.Sum, wrap: biasGradSum },
];

let registered = false;

export function registerNativeTrainingKernels(): void {
  if (registered) return;
  registered = true;
  wrapStockKernels(BACKEND, WRAPPERS);
  // COHORT_NATIVE_RELU_GRAD=0 keeps tfjs' dy * step(x) (to compare the two).
  if (process.env.COHORT_NATIVE_RELU_GRAD !== "0") registerNativeReluGrad(BACKEND);
}
