/**
 * DepthwiseConv2dNativeBackpropInput / BackpropFilter for the wasm backend, which has neither in
 * tfjs-backend-wasm 4.22: without them a depthwise convolution after the first layer (PyTorch
 * Conv2d with groups = in_channels, Keras DepthwiseConv2D) cannot train there. Depthwise kernels
 * are small (one filter per channel), so a direct loop over the forward's index map is enough:
 * y[b, i, j, c*M + m] = sum_{p,q} x[b, i*sh - top + p*dh, j*sw - left + q*dw, c] * w[p, q, c, m].
 */
import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";
import { tf, type TensorInfo } from "../tfjs.js";
import { heap } from "./wasm-calls.js";

type Attrs = { strides: number | [number, number]; dilations: number | [number, number]; pad: tf.DepthwiseConv2dNativeBackpropInputAttrs["pad"]; dimRoundingMode?: "floor" | "round" | "ceil" };

/** Calls visit(xIndex, dyIndex, wIndex) for every term of the forward sum. */
function forEachTerm(xShape: number[], wShape: number[], attrs: Attrs, visit: (xi: number, yi: number, wi: number) => void): void {
  const info = tf.backend_util.computeConv2DInfo(xShape as [number, number, number, number], wShape as [number, number, number, number],
    attrs.strides, attrs.dilations, attrs.pad, attrs.dimRoundingMode, true, "channelsLast");
  const [n, h, w, c] = xShape as [number, number, number, number];
  const [kh, kw, , m] = wShape as [number, number, number, number];
  const { outHeight, outWidth, strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw } = info;
  const { top, left } = info.padInfo;
  for (let b = 0; b < n; b++) {
    for (let i = 0; i < outHeight; i++) {
      for (let j = 0; j < outWidth; j++) {
        const yRow = ((b * outHeight + i) * outWidth + j) * c * m;
        for (let p = 0; p < kh; p++) {
          const r = i * sh - top + p * dh;
          if (r < 0 || r >= h) continue;
          for (let q = 0; q < kw; q++) {
            const s = j * sw - left + q * dw;
            if (s < 0 || s >= w) continue;
            const xRow = ((b * h + r) * w + s) * c;
            const wRow = (p * kw + q) * c * m;
            for (let ch = 0; ch < c; ch++) for (let k = 0; k < m; k++) visit(xRow + ch, yRow + ch * m + k, wRow + ch * m + k);
          }
        }
      }
    }
  }
}

export function depthwiseBackpropInput(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): TensorInfo {
  const backend = args.backend as BackendWasm;
  const { dy, filter } = args.inputs as { dy: TensorInfo; filter: TensorInfo };
  const attrs = args.attrs as unknown as tf.DepthwiseConv2dNativeBackpropInputAttrs;
  const out = backend.makeOutput(attrs.inputShape, "float32");
  const [dx, g, w] = [heap(backend, out), heap(backend, dy), heap(backend, filter)];
  dx.fill(0);
  forEachTerm(attrs.inputShape, filter.shape, attrs, (xi, yi, wi) => { dx[xi] += g[yi]! * w[wi]!; });
  return out;
}

export function depthwiseBackpropFilter(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): TensorInfo {
  const backend = args.backend as BackendWasm;
  const { x, dy } = args.inputs as { x: TensorInfo; dy: TensorInfo };
  const attrs = args.attrs as unknown as tf.DepthwiseConv2dNativeBackpropFilterAttrs;
  const out = backend.makeOutput(attrs.filterShape, "float32");
  const [dw, xs, g] = [heap(backend, out), heap(backend, x), heap(backend, dy)];
  dw.fill(0);
  forEachTerm(x.shape, attrs.filterShape, attrs, (xi, yi, wi) => { dw[wi] += xs[xi]! * g[yi]!; });
  return out;
}
