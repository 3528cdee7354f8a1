/**
 * BatchMatMul / _FusedMatMul for wasm with transposed operands made explicit.
 *
 * The stock wasm kernels reach XNNPACK only for untransposed operands; with transposeA or
 * transposeB they fall back to a scalar loop about 12x slower. Backpropagation through a
 * dense layer needs exactly those products (x^T.dy for the weights, dy.W^T for the input):
 * for Dense(9216->128) on a batch of 64 they took 135 ms and 123 ms, against 4 ms for the
 * transpose plus 9-13 ms for the untransposed product. So: transpose first, then call the
 * stock kernel with both flags off.
 */
import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";
import { tf, type TensorInfo } from "../tfjs.js";
import { dispose, transpose } from "./wasm-calls.js";

type MatMulAttrs = { transposeA: boolean; transposeB: boolean };

/** Wraps a stock matmul kernel function so that it only ever sees untransposed operands. */
export function untransposingMatMul(stock: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const backend = args.backend as BackendWasm;
    const attrs = args.attrs as unknown as MatMulAttrs;
    if (!attrs.transposeA && !attrs.transposeB) return stock(args);
    const inputs = { ...args.inputs } as Record<string, TensorInfo>;
    const made: TensorInfo[] = [];
    if (attrs.transposeA) made.push((inputs.a = swapLastTwo(backend, inputs.a)));
    if (attrs.transposeB) made.push((inputs.b = swapLastTwo(backend, inputs.b)));
    try {
      return stock({ ...args, inputs, attrs: { ...args.attrs, transposeA: false, transposeB: false } });
    } finally {
      dispose(backend, ...made);
    }
  };
}

function swapLastTwo(backend: BackendWasm, x: TensorInfo): TensorInfo {
  const rank = x.shape.length;
  const perm = [...Array(rank).keys()];
  [perm[rank - 2], perm[rank - 1]] = [perm[rank - 1], perm[rank - 2]];
  return transpose(backend, x, perm);
}
