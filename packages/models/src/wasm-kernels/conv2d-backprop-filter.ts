/**
 * Conv2DBackpropFilter for the wasm backend, which tfjs-backend-wasm 4.22 lacks entirely (conv
 * nets cannot train on it without this kernel).
 *
 * dW[a,b,ci,co] = sum over n,i,j of x[n, i*sh + a - padTop, j*sw + b - padLeft, ci] * dy[n,i,j,co].
 * Reading ci as the batch and n as the channel, that is a forward convolution of
 * x^T [ci,H,W,n] with dy^T [outH,outW,n,co] as the filter, dilated by the stride, padded like the
 * forward pass. Its spatial output is at least kh x kw (larger when the forward pass dropped
 * trailing rows), so it is cropped, then transposed back to [kh,kw,ci,co]. XNNPACK runs it.
 */
import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";
import { tf, type TensorInfo } from "../tfjs.js";
import { conv2d, dispose, heap, runWasmKernel, slice, stridePair, transpose } from "./wasm-calls.js";

/**
 * Patch sizes (kh*kw*ci) up to this use an explicit patch matrix and one matrix product
 * instead: a first layer's filter (5x5x1, 3x3x3) makes the convolution above a very large
 * filter (all of dy) applied at very few positions, which XNNPACK runs poorly (25 ms vs 8 ms
 * for 3x3x1->32 on 64x28x28). The patch matrix is at most this many times the input's size.
 */
const PATCH_MATRIX_MAX = Number(process.env.PMM ?? 32);

export function conv2DBackpropFilter(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): TensorInfo {
  const backend = args.backend as BackendWasm;
  const { x, dy } = args.inputs as { x: TensorInfo; dy: TensorInfo };
  const attrs = args.attrs as unknown as tf.Conv2DBackpropFilterAttrs;
  if (attrs.dataFormat === "NCHW") throw new Error("wasm Conv2DBackpropFilter supports only NHWC (channelsLast)");
  const filterShape = attrs.filterShape;
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number], filterShape, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode, false, "channelsLast");
  const [kh, kw, ci, co] = filterShape;
  const { top, bottom, left, right } = info.padInfo;
  if (kh * kw * ci <= PATCH_MATRIX_MAX) return viaPatchMatrix(backend, x, dy, info);

  const xT = transpose(backend, x, [3, 1, 2, 0]);
  const dyT = transpose(backend, dy, [1, 2, 0, 3]);
  const full = conv2d(backend, xT, dyT, [[0, 0], [top, bottom], [left, right], [0, 0]], stridePair(attrs.strides));
  dispose(backend, xT, dyT);
  let cropped = full;
  if (full.shape[1] !== kh || full.shape[2] !== kw) {
    cropped = slice(backend, full, [0, 0, 0, 0], [ci, kh, kw, co]);
    dispose(backend, full);
  }
  const dw = transpose(backend, cropped, [1, 2, 0, 3]);
  dispose(backend, cropped);
  return dw;
}

/**
 * dW^T = dy^T . P, with P[pixel, (a,b,ci)] = the input under tap (a,b) at that output pixel (0 in
 * padding). dy^T is the product's left operand so that XNNPACK packs only the small patch
 * matrix, not dy; the [co, kh*kw*ci] result is transposed back into the filter's layout.
 */
function viaPatchMatrix(backend: BackendWasm, x: TensorInfo, dy: TensorInfo, info: tf.backend_util.Conv2DInfo): TensorInfo {
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: ci, outHeight: oh, outWidth: ow, outChannels: co } = info;
  const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw } = info;
  const { top, left } = info.padInfo;
  const pixels = n * oh * ow;
  const taps = kh * kw * ci;
  const patches = backend.makeOutput([1, pixels, taps], "float32");
  const src = heap(backend, x);
  const dst = heap(backend, patches);
  let o = 0;
  for (let img = 0; img < n; img++) {
    for (let i = 0; i < oh; i++) {
      for (let j = 0; j < ow; j++) {
        for (let a = 0; a < kh; a++) {
          const r = i * sh + a - top;
          for (let b = 0; b < kw; b++) {
            const col = j * sw + b - left;
            if (r < 0 || r >= h || col < 0 || col >= w) {
              dst.fill(0, o, o + ci);
            } else {
              const s0 = ((img * h + r) * w + col) * ci;
              for (let c = 0; c < ci; c++) dst[o + c] = src[s0 + c];
            }
            o += ci;
          }
        }
      }
    }
  }
  // Views share data with their source; only the shape differs.
  const dyT = transpose(backend, { dataId: dy.dataId, shape: [pixels, co], dtype: dy.dtype }, [1, 0]);
  const product = runWasmKernel("BatchMatMul", backend,
    { a: { ...dyT, shape: [1, co, pixels] }, b: patches }, { transposeA: false, transposeB: false });
  dispose(backend, patches, dyT);
  const dw = transpose(backend, { ...product, shape: [co, taps] }, [1, 0]);
  dispose(backend, product);
  dw.shape = [kh, kw, ci, co];
  return dw;
}
