import { float16ArrayToFloat32, float32ArrayToFloat16 } from "./float16.js";
import { type Manifest, type TensorSpec, tensorByteLength } from "./manifest.js";
import { elementCount } from "./shape.js";
import type { WeightSet } from "./weight-set.js";

/**
 * How a party's update travels. "float32" is the weights as they are. The compressed ones send
 * each float32 tensor as its difference from the global model the party started from, which the
 * aggregator holds too: differences are small, so half precision or 8 bits lose far less than
 * they would on the weights themselves. Other dtypes always travel as they are.
 */
export const UPDATE_ENCODINGS = ["float32", "float16", "int8"] as const;
export type UpdateEncoding = (typeof UPDATE_ENCODINGS)[number];

/** int8 tensors start with their float32 scale: value = base + q * scale, q in [-127, 127]. */
const INT8_HEADER = 4;

export function isUpdateEncoding(value: string): value is UpdateEncoding {
  return (UPDATE_ENCODINGS as readonly string[]).includes(value);
}

/** Bytes one tensor takes on the wire in `encoding`; from the manifest alone, never from the peer. */
export function encodedTensorByteLength(spec: TensorSpec, encoding: UpdateEncoding): number {
  if (encoding === "float32" || spec.dtype !== "float32") return tensorByteLength(spec);
  const n = elementCount(spec.shape);
  return encoding === "float16" ? n * 2 : INT8_HEADER + n;
}

export function encodedByteLength(manifest: Manifest, encoding: UpdateEncoding): number {
  return manifest.tensors.reduce((sum, spec) => sum + encodedTensorByteLength(spec, encoding), 0);
}

/** Encodes one float32 tensor as its difference from `base` (same length). */
export function encodeFloat32Tensor(values: Float32Array, base: Float32Array, encoding: Exclude<UpdateEncoding, "float32">): Uint8Array {
  if (values.length !== base.length) throw new Error(`update and base differ in length (${values.length} vs ${base.length})`);
  const delta = new Float32Array(values.length);
  for (let i = 0; i < values.length; i++) delta[i] = values[i] - base[i];
  if (encoding === "float16") {
    const bits = float32ArrayToFloat16(delta);
    return new Uint8Array(bits.buffer, bits.byteOffset, bits.byteLength);
  }
  let largest = 0;
  for (let i = 0; i < delta.length; i++) largest = Math.max(largest, Math.abs(delta[i]));
  const scale = largest / 127;
  const out = new Uint8Array(INT8_HEADER + delta.length);
  new DataView(out.buffer).setFloat32(0, scale, true);
  const q = new Int8Array(out.buffer, INT8_HEADER);
  if (scale > 0) for (let i = 0; i < delta.length; i++) q[i] = Math.round(delta[i] / scale);
  return out;
}

/**
 * A party's update as it travels: each float32 tensor replaced by its encoded bytes (a uint8
 * tensor), the others as they are, so that packing and chunking stay the same for all encodings.
 */
export function encodeWeights(weights: WeightSet, base: WeightSet, encoding: UpdateEncoding): WeightSet {
  if (encoding === "float32") return weights;
  if (weights.length !== base.length) throw new Error(`update has ${weights.length} tensors, the base model ${base.length}`);
  return weights.map((t, i) => {
    if (t.dtype !== "float32") return t;
    const data = encodeFloat32Tensor(t.data as Float32Array, base[i].data as Float32Array, encoding);
    return { name: t.name, dtype: "uint8", shape: [data.byteLength], data };
  });
}

/**
 * Decodes one float32 tensor: `base` plus the difference in `bytes`, into `out`. The caller
 * has checked `bytes.byteLength` against encodedTensorByteLength; a non-finite int8 scale gives
 * non-finite values, which the aggregator's finite check refuses like any other.
 */
export function decodeFloat32Tensor(bytes: Uint8Array, base: Float32Array, encoding: Exclude<UpdateEncoding, "float32">, out = new Float32Array(base.length)): Float32Array {
  if (encoding === "float16") {
    const aligned = bytes.byteOffset % 2 === 0 ? bytes : bytes.slice();
    float16ArrayToFloat32(new Uint16Array(aligned.buffer, aligned.byteOffset, base.length), out);
  } else {
    const scale = new DataView(bytes.buffer, bytes.byteOffset, INT8_HEADER).getFloat32(0, true);
    const q = new Int8Array(bytes.buffer, bytes.byteOffset + INT8_HEADER, base.length);
    for (let i = 0; i < q.length; i++) out[i] = q[i] * scale;
  }
  for (let i = 0; i < out.length; i++) out[i] += base[i];
  return out;
}
