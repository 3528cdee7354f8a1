import { type NpyArray, float16ToNumber } from "@cohort/tensors";
import { DataError } from "./errors.js";

/** Conversions from arrays as stored (any numpy dtype) to what a Split holds. */

/** Any numeric array as float32, optionally multiplied by `scale` (e.g. 1/255 for pixels). */
export function toFloat32(array: NpyArray, scale = 1): Float32Array {
  const out = new Float32Array(array.data.length);
  const data = array.data;
  if (data instanceof BigInt64Array) {
    for (let i = 0; i < data.length; i++) out[i] = Number(data[i]) * scale;
  } else if (array.dtype === "float16") {
    for (let i = 0; i < data.length; i++) out[i] = float16ToNumber(data[i] as number) * scale;
  } else if (scale === 1) {
    out.set(data as ArrayLike<number>);
  } else {
    for (let i = 0; i < data.length; i++) out[i] = (data[i] as number) * scale;
  }
  return out;
}

export function isIntegerDType(array: NpyArray): boolean {
  return array.dtype.startsWith("int") || array.dtype.startsWith("uint") || array.dtype === "bool";
}

/**
 * Labels as a Split holds them: integer arrays become Int32Array class ids of shape [n]
 * (a [n, 1] column is flattened); float arrays stay float32 (one-hot rows or regression targets).
 */
export function toLabels(array: NpyArray, where: string): { y: Int32Array | Float32Array; yShape: number[] } {
  if (array.shape.length === 0) throw new DataError("data.bad_array", `${where}: labels are a scalar; expected one label per example`);
  if (!isIntegerDType(array)) return { y: toFloat32(array), yShape: [...array.shape] };
  const isColumn = array.shape.length === 2 && array.shape[1] === 1;
  if (array.shape.length !== 1 && !isColumn) {
    throw new DataError("data.bad_array", `${where}: integer labels of shape [${array.shape.join(", ")}]; expected [n] class ids (or [n, 1])`);
  }
  const y = new Int32Array(array.data.length);
  for (let i = 0; i < y.length; i++) {
    const value = Number(array.data[i]);
    if (!Number.isInteger(value) || value < -(2 ** 31) || value >= 2 ** 31) {
      throw new DataError("data.bad_array", `${where}: label ${value} at index ${i} does not fit a class id`);
    }
    y[i] = value;
  }
  return { y, yShape: [array.shape[0]] };
}

/** The rows `indices` of a row-major array whose rows hold `rowSize` values. */
export function takeRows<T extends Float32Array | Int32Array>(source: T, rowSize: number, indices: ArrayLike<number>): T {
  const out = new (source.constructor as new (n: number) => T)(indices.length * rowSize);
  for (let i = 0; i < indices.length; i++) {
    const from = indices[i] * rowSize;
    out.set(source.subarray(from, from + rowSize), i * rowSize);
  }
  return out;
}
