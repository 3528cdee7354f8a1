/**
 * Identity for wasm without a copy. tfjs-core clones every tensor a gradient will need (50 clones
 * a step for the seed Keras CNN, each an Identity kernel), and the stock wasm Identity copies the
 * whole buffer: 4-8 ms a batch of 32-64 rows. No wasm kernel writes into its inputs, so the
 * clone can share its input's memory, reference-counted like the stock Reshape and the cpu
 * backend's Identity.
 */
import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";
import type { tf, TensorInfo } from "../tfjs.js";

export function sharedIdentity(stock: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const { x } = args.inputs as { x: TensorInfo };
    if (x.dtype === "string") return stock(args);
    (args.backend as BackendWasm).incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  };
}
