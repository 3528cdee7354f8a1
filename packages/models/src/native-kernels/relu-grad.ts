/**
 * ReLU's gradient on the tensorflow backend as TensorFlow's ReluGrad (the op Keras' graph runs):
 * one kernel where tfjs-core's gradient, dy * step(x), takes three (Cohort's two-op Step, then
 * Multiply). tfjs-layers trains conv and dense layers unfused (fused kernels only run outside a
 * gradient tape), so every ReLU of a training step goes through this gradient. On the seed CNN's
 * 64x24x24x64 activation: 1.2-3.2 ms against 3.5-11 ms for dy * step(x) here.
 *
 * One difference, for non-finite values only: ReluGrad gives 0 where x is NaN (and passes dy
 * where x > 0), tfjs' product gives NaN there and where dy is infinite and x <= 0. A NaN
 * activation already makes the loss NaN, so training diverges the same way.
 */
import { tf } from "../tfjs.js";
import { floatAttr, type NativeBackend } from "./native-backend.js";

/** The kernel the re-registered gradient runs (tfjs-core has no ReluGrad kernel of its own). */
export const RELU_GRAD_KERNEL = "CohortReluGrad";

/** Re-registers Relu's gradient so that on `backendName` it runs ReluGrad; other backends and dtypes keep tfjs' own. */
export function registerNativeReluGrad(backendName: string): void {
  tf.registerKernel({
    kernelName: RELU_GRAD_KERNEL,
    backendName,
    kernelFunc: ({ inputs, backend }) => {
      const native = backend as unknown as NativeBackend;
      return native.executeSingleOutput("ReluGrad", floatAttr(native), [inputs.dy as tf.TensorInfo, inputs.x as tf.TensorInfo]);
    },
  });
  const stock = tf.getGradient(tf.Relu);
  tf.registerGradient({
    ...stock,
    gradFunc: (dy, saved, attrs) => {
      const [x] = saved as tf.Tensor[];
      const grad = Array.isArray(dy) ? undefined : dy;
      if (!grad || tf.getBackend() !== backendName || x!.dtype !== "float32" || grad.dtype !== "float32") return stock.gradFunc(dy, saved, attrs);
      return { x: () => tf.engine().runKernel(RELU_GRAD_KERNEL, { dy: grad, x: x! }) as tf.Tensor };
    },
  });
}
