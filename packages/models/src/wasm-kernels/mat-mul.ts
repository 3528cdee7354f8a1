/**
 * BatchMatMul / _FusedMatMul for wasm with transposed operands made explicit.
 *
 * The stock wasm kernels reach XNNPACK only for untransposed operands; with transposeA or
 * transposeB they fall back to a scalar loop about 12x slower. Backpropagation through a
 * dense layer needs exactly those products (x^T.dy for the weights, dy.W^T for the input):
 * for Dense(9216->128) on a batch of 64 they took 135 ms and 123 ms, against 4 ms for the
 * transpose plus 9-13 ms for the untransposed product. So: transpose first, then call the
 * stock kernel with both flags off.
 *
 * dy.W^T transposes the whole weight matrix W (n x k) every step, and XNNPACK then packs it
 * again. Where the batch is small (m rows: m(k + n) < nk) it is cheaper to compute its transpose
 * W.dy^T, with the small dy as the packed operand, and transpose the m x n result: for
 * Dense(9216->128) on 32 rows that moves 0.3M values instead of 1.18M (and packs 4K, not 1.18M).
 * Each output value is the same sum over k in the same order (XNNPACK's GEMM accumulates k in
 * order, and wasm SIMD has no fused multiply-add), so the values are bit for bit the same.
 */
import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";
import { tf, type TensorInfo } from "../tfjs.js";
import { dispose, transpose } from "./wasm-calls.js";

type MatMulAttrs = { transposeA: boolean; transposeB: boolean; activation?: string };

/** Wraps a stock matmul kernel function so that it only ever sees untransposed operands. */
export function untransposingMatMul(stock: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const backend = args.backend as BackendWasm;
    const attrs = args.attrs as unknown as MatMulAttrs;
    if (!attrs.transposeA && !attrs.transposeB) return stock(args);
    if (productOfTransposeIsCheaper(args.inputs as Record<string, TensorInfo | undefined>, attrs)) {
      const { a, b } = args.inputs as Record<string, TensorInfo>;
      const aT = swapLastTwo(backend, a);
      let product: TensorInfo | undefined;
      try {
        product = stock({ ...args, inputs: { a: b, b: aT }, attrs: { ...args.attrs, transposeA: false, transposeB: false } }) as TensorInfo;
        return swapLastTwo(backend, product);
      } finally {
        dispose(backend, aT, ...(product ? [product] : []));
      }
    }
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

/**
 * a.b^T as (b.a^T)^T: only without bias or activation (they apply to the product, not its
 * transpose), with no batch beyond 1, and where it moves fewer values.
 */
export function productOfTransposeIsCheaper(inputs: Record<string, TensorInfo | undefined>, attrs: MatMulAttrs): boolean {
  const { a, b } = inputs;
  if (!a || !b || attrs.transposeA || !attrs.transposeB || inputs.bias || inputs.preluActivationWeights) return false;
  if (attrs.activation !== undefined && attrs.activation !== "linear") return false;
  if ([a, b].some((x) => x.shape.length < 2 || x.shape.slice(0, -2).some((d) => d !== 1))) return false;
  const [m, k] = a.shape.slice(-2);
  const n = b.shape[b.shape.length - 2];
  return m * (k + n) < n * k;
}

function swapLastTwo(backend: BackendWasm, x: TensorInfo): TensorInfo {
  const rank = x.shape.length;
  const perm = [...Array(rank).keys()];
  [perm[rank - 2], perm[rank - 1]] = [perm[rank - 1], perm[rank - 2]];
  return transpose(backend, x, perm);
}
