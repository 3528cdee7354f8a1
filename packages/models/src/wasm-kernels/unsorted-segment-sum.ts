/**
 * UnsortedSegmentSum for wasm, which tfjs-backend-wasm 4.22 lacks: it is the gradient of
 * Gather, so without it an Embedding layer cannot train on wasm ("Kernel 'UnsortedSegmentSum'
 * not registered"). out[s, ...] = sum of x[i, ...] over the i whose segment id is s; ids outside
 * [0, numSegments) are dropped, as TensorFlow does.
 */
import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";
import type { TensorInfo } from "../tfjs.js";

export function unsortedSegmentSum(args: { inputs: Record<string, TensorInfo>; backend: unknown; attrs?: Record<string, unknown> }): TensorInfo {
  const backend = args.backend as BackendWasm;
  const { x, segmentIds } = args.inputs as { x: TensorInfo; segmentIds: TensorInfo };
  const numSegments = Number(args.attrs?.numSegments);
  const ids = segmentIds.shape.reduce((a, b) => a * b, 1);
  const size = x.shape.reduce((a, b) => a * b, 1);
  const inner = ids === 0 ? 0 : size / ids;
  const outShape = [numSegments, ...x.shape.slice(segmentIds.shape.length)];
  const out = backend.makeOutput(outShape, x.dtype);
  // Views taken after the last allocation (the heap may grow and move).
  const src = backend.typedArrayFromHeap(x) as Float32Array | Int32Array;
  const seg = backend.typedArrayFromHeap(segmentIds) as Int32Array | Float32Array;
  const dst = backend.typedArrayFromHeap(out) as Float32Array | Int32Array;
  dst.fill(0);
  for (let i = 0; i < ids; i++) {
    const s = seg[i];
    if (!(s >= 0 && s < numSegments)) continue;
    const from = i * inner;
    const to = s * inner;
    for (let k = 0; k < inner; k++) dst[to + k] += src[from + k];
  }
  return out;
}
