/**
 * Wrapping a backend's stock kernels: the wasm and tensorflow backends' kernel registrations
 * both replace a kernel by a function of the stock one (which keeps its setup and still serves
 * the cases the wrapper does not cover).
 */
import { tf } from "./tfjs.js";

export interface KernelWrapper {
  kernelName: string;
  wrap: (stock: tf.KernelFunc) => tf.KernelFunc;
}

/** Re-registers each stock kernel of `backend` named in `wrappers` as its wrapped function; a kernel the backend lacks is left alone. */
export function wrapStockKernels(backend: string, wrappers: readonly KernelWrapper[]): void {
  for (const { kernelName, wrap } of wrappers) {
    const stock = tf.getKernel(kernelName, backend);
    if (!stock) continue;
    tf.unregisterKernel(kernelName, backend);
    tf.registerKernel({ ...stock, kernelFunc: wrap(stock.kernelFunc) });
  }
}
