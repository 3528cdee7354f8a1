import { type Manifest, isDType, elementCount } from "@cohort/tensors";
import type { ManifestMessage } from "./messages.js";

/** Largest number of tensors and dimensions a peer's manifest may claim (checked before anything is allocated). */
export const MAX_MANIFEST_TENSORS = 100_000;
export const MAX_TENSOR_RANK = 16;

export function manifestToMessage(manifest: Manifest): ManifestMessage {
  return { tensors: manifest.tensors.map((t) => ({ name: t.name, dtype: t.dtype, shape: [...t.shape] })) };
}

/** Validates a manifest received from a peer; throws a RangeError naming the first bad tensor. */
export function manifestFromMessage(message: ManifestMessage | null | undefined): Manifest {
  const tensors = message?.tensors ?? [];
  if (tensors.length > MAX_MANIFEST_TENSORS) throw new RangeError(`manifest lists ${tensors.length} tensors (limit ${MAX_MANIFEST_TENSORS})`);
  return {
    tensors: tensors.map((t, i) => {
      if (!t.name) throw new RangeError(`tensor ${i} has no name`);
      if (!isDType(t.dtype)) throw new RangeError(`tensor ${t.name}: unknown dtype "${t.dtype}"`);
      if (t.shape.length > MAX_TENSOR_RANK) throw new RangeError(`tensor ${t.name}: rank ${t.shape.length} exceeds ${MAX_TENSOR_RANK}`);
      const shape = t.shape.map(Number);
      elementCount(shape);
      return { name: t.name, dtype: t.dtype, shape };
    }),
  };
}
