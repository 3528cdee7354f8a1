/** The parts of tfjs-node's NodeJSKernelBackend (not exported with types) that Cohort's kernels call. */
import type { tf } from "../tfjs.js";

export interface OpAttr {
  name: string;
  type: number;
  value: unknown;
}

export interface NativeBackend {
  binding: { TF_ATTR_TYPE: number; TF_ATTR_STRING: number; TF_FLOAT: number; TF_Version: string };
  executeSingleOutput(name: string, opAttrs: OpAttr[], inputs: tf.TensorInfo[]): tf.Tensor;
}

/** The `T: float32` attribute most element-wise TensorFlow ops take. */
export function floatAttr(backend: NativeBackend): OpAttr[] {
  return [{ name: "T", type: backend.binding.TF_ATTR_TYPE, value: backend.binding.TF_FLOAT }];
}
