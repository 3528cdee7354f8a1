import { type DType, type TypedArray, allocate } from "./dtype.js";
import { type Manifest, type TensorSpec } from "./manifest.js";
import { elementCount } from "./shape.js";

/** A tensor with its values; `data` length equals the element count of `shape`. */
export interface NamedTensor extends TensorSpec {
  data: TypedArray;
}

/** A model's weights: tensors in manifest order. */
export type WeightSet = NamedTensor[];

export function manifestOf(weights: WeightSet): Manifest {
  return { tensors: weights.map(({ name, dtype, shape }) => ({ name, dtype, shape: [...shape] })) };
}

/** A zero-filled WeightSet laid out as `manifest` says. */
export function zerosLike(manifest: Manifest): WeightSet {
  return manifest.tensors.map((t) => ({ ...t, shape: [...t.shape], data: allocate(t.dtype, elementCount(t.shape)) }));
}

export function tensor(name: string, dtype: DType, shape: number[], data: TypedArray): NamedTensor {
  const count = elementCount(shape);
  if (data.length !== count) throw new RangeError(`${name}: ${data.length} values for shape [${shape.join(",")}] (${count} expected)`);
  return { name, dtype, shape, data };
}

/** The raw little-endian bytes of a tensor, without copying. */
export function tensorBytes(t: NamedTensor): Uint8Array {
  return new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
}
