/** Element types a tensor may have on the wire and on disk (all little-endian). */
export const DTYPES = ["float32", "float64", "float16", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "bool"] as const;
export type DType = (typeof DTYPES)[number];

export type TypedArray =
  | Float32Array | Float64Array | Uint16Array | Int8Array | Uint8Array | Int16Array
  | Int32Array | Uint32Array | BigInt64Array;

const BYTES: Record<DType, number> = {
  float32: 4, float64: 8, float16: 2, int8: 1, uint8: 1, int16: 2, uint16: 2,
  int32: 4, uint32: 4, int64: 8, bool: 1,
};

export function isDType(value: string): value is DType {
  return (DTYPES as readonly string[]).includes(value);
}

export function bytesPerElement(dtype: DType): number {
  return BYTES[dtype];
}

/** Allocates the typed array that holds `length` elements of `dtype` (float16 as raw uint16 bits). */
export function allocate(dtype: DType, length: number): TypedArray {
  switch (dtype) {
    case "float32": return new Float32Array(length);
    case "float64": return new Float64Array(length);
    case "float16": return new Uint16Array(length);
    case "int8": return new Int8Array(length);
    case "uint8": case "bool": return new Uint8Array(length);
    case "int16": return new Int16Array(length);
    case "uint16": return new Uint16Array(length);
    case "int32": return new Int32Array(length);
    case "uint32": return new Uint32Array(length);
    case "int64": return new BigInt64Array(length);
  }
}

/** Views `bytes` (little-endian, as on the wire) as a typed array of `dtype`, copying only when misaligned. */
export function viewAs(dtype: DType, bytes: Uint8Array): TypedArray {
  const size = bytesPerElement(dtype);
  if (bytes.byteLength % size !== 0) {
    throw new RangeError(`${bytes.byteLength} bytes is not a whole number of ${dtype} elements`);
  }
  const aligned = bytes.byteOffset % size === 0 ? bytes : bytes.slice();
  const out = allocate(dtype, 0).constructor as new (b: ArrayBufferLike, o: number, l: number) => TypedArray;
  return new out(aligned.buffer, aligned.byteOffset, aligned.byteLength / size);
}
