/**
 * Conv2DBackpropFilter for the wasm backend, which tfjs-backend-wasm 4.22 lacks entirely (conv
 * nets cannot train on it without this kernel).
 *
 * dW[a,b,ci,co] = sum over n,i,j of x[n, i*sh + a - padTop, j*sw + b - padLeft, ci] * dy[n,i,j,co].
 * Reading ci as the batch and n as the channel, that is a forward convolution of
 * x^T [ci,H,W,n] with dy^T [outH,outW,n,co] as the filter, dilated by the stride, padded like the
 * forward pass. Its spatial output is at least kh x kw (larger when the forward pass dropped
 * trailing rows), so it is cropped, then transposed back to [kh,kw,ci,co]. XNNPACK runs it.
 *
 * Tried and dropped: an explicit patch matrix (im2col) and one matrix product, for first
 * layers with few taps (3x3x1, 5x5x1). It measured no faster, sometimes 2x slower.
 */
import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";
import { tf, type TensorInfo } from "../tfjs.js";
import { conv2d, dispose, slice, stridePair, transpose } from "./wasm-calls.js";

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

