import { viewAs } from "./dtype.js";
import { type Manifest, manifestByteLength, tensorByteLength } from "./manifest.js";
import { type WeightSet, tensorBytes } from "./weight-set.js";

/** Concatenates the tensors' little-endian bytes in manifest order: the form a model takes on the wire. */
export function packWeights(weights: WeightSet): Uint8Array {
  const total = weights.reduce((sum, t) => sum + t.data.byteLength, 0);
  const out = new Uint8Array(total);
  let offset = 0;
  for (const t of weights) {
    out.set(tensorBytes(t), offset);
    offset += t.data.byteLength;
  }
  return out;
}

/** Views packed bytes as a WeightSet laid out by `manifest` (no copy where aligned). */
export function unpackWeights(manifest: Manifest, bytes: Uint8Array): WeightSet {
  const expected = manifestByteLength(manifest);
  if (bytes.byteLength !== expected) {
    throw new RangeError(`packed weights are ${bytes.byteLength} bytes, the manifest describes ${expected}`);
  }
  let offset = 0;
  return manifest.tensors.map((spec) => {
    const length = tensorByteLength(spec);
    const data = viewAs(spec.dtype, bytes.subarray(offset, offset + length));
    offset += length;
    return { ...spec, shape: [...spec.shape], data };
  });
}

/** Byte offset at which each tensor starts in the packed form, plus the total at the end. */
export function tensorOffsets(manifest: Manifest): number[] {
  const offsets = [0];
  for (const spec of manifest.tensors) offsets.push(offsets[offsets.length - 1] + tensorByteLength(spec));
  return offsets;
}
