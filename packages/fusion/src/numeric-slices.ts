import { type DType, type Manifest, bytesPerElement, float16ToNumber, numberToFloat16, tensorOffsets, viewAs } from "@cohort/tensors";

/** A run of whole elements of one tensor: where its bytes lie in a packed update. */
export interface SlicePlanEntry { tensor: number; dtype: DType; offset: number; bytes: number; elements: number; /** Index of its first element in the model's flat element order. */ element: number }

/**
 * Cuts a packed model into consecutive slices, each within one tensor and of whole elements, of
 * at most `sliceElements` elements: robust strategies read the same slice of every staged update
 * together, so their memory is `inputs x sliceElements` values whatever the model's size.
 */
export function* slicePlan(manifest: Manifest, sliceElements: number): Generator<SlicePlanEntry> {
  const offsets = tensorOffsets(manifest);
  let element = 0;
  for (let i = 0; i < manifest.tensors.length; i++) {
    const dtype = manifest.tensors[i].dtype;
    const size = bytesPerElement(dtype);
    const total = (offsets[i + 1] - offsets[i]) / size;
    for (let done = 0; done < total; done += sliceElements) {
      const elements = Math.min(sliceElements, total - done);
      yield { tensor: i, dtype, offset: offsets[i] + done * size, bytes: elements * size, elements, element: element + done };
    }
    element += total;
  }
}

/** Elements per slice when `inputs` updates are read together within a budget of `budgetBytes` of float64 values. */
export function sliceElementsFor(inputs: number, budgetBytes: number): number {
  return Math.max(64, Math.floor(budgetBytes / (8 * Math.max(1, inputs))));
}

/** Writes the values of `bytes` (little-endian `dtype`) into `out` as float64 numbers. */
export function decodeInto(dtype: DType, bytes: Uint8Array, out: Float64Array, at = 0): void {
  const values = viewAs(dtype, bytes);
  const n = values.length;
  if (values instanceof BigInt64Array) for (let j = 0; j < n; j++) out[at + j] = Number(values[j]);
  else if (dtype === "float16") for (let j = 0; j < n; j++) out[at + j] = float16ToNumber(values[j] as number);
  else {
    const numbers = values as ArrayLike<number>;
    for (let j = 0; j < n; j++) out[at + j] = numbers[j];
  }
}

/**
 * `values` written as `dtype` into `out` (bytes, offset 0 of its own buffer so any dtype is
 * aligned). Integers take the rounded value, as WeightedSum writes its mean.
 */
export function encodeInto(dtype: DType, values: Float64Array, out: Uint8Array): Uint8Array {
  const bytes = out.subarray(0, values.length * bytesPerElement(dtype));
  const target = viewAs(dtype, bytes);
  const n = values.length;
  if (target instanceof BigInt64Array) for (let j = 0; j < n; j++) target[j] = BigInt(Math.round(values[j]));
  else if (dtype === "float16") for (let j = 0; j < n; j++) target[j] = numberToFloat16(values[j]);
  else if (dtype === "float32" || dtype === "float64") (target as Float32Array | Float64Array).set(values);
  else for (let j = 0; j < n; j++) (target as Int32Array)[j] = Math.round(values[j]);
  return bytes;
}

/** Whether a dtype holds real numbers (server optimizers and clipping move only these). */
export function isFloat(dtype: DType): boolean {
  return dtype === "float32" || dtype === "float64" || dtype === "float16";
}
