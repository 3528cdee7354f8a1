import { createHash } from "node:crypto";
import { bytesPerElement, type DType } from "./dtype.js";
import { elementCount, sameShape } from "./shape.js";

/** One tensor's identity in a model: its name, element type and shape. */
export interface TensorSpec {
  name: string;
  dtype: DType;
  shape: number[];
}

/** The ordered list of a model's tensors; the order is the byte order on the wire. */
export interface Manifest {
  tensors: TensorSpec[];
}

export function tensorByteLength(spec: TensorSpec): number {
  return elementCount(spec.shape) * bytesPerElement(spec.dtype);
}

export function manifestByteLength(manifest: Manifest): number {
  return manifest.tensors.reduce((sum, t) => sum + tensorByteLength(t), 0);
}

/** SHA-256 of the canonical form of the manifest (name, dtype, shape in order): equal models share it. */
export function fingerprint(manifest: Manifest): string {
  const canonical = JSON.stringify(manifest.tensors.map((t) => [t.name, t.dtype, t.shape]));
  return createHash("sha256").update(canonical).digest("hex");
}

/**
 * Lists how `actual` differs from `expected`, one line per tensor, empty when they match.
 * Used to tell a party exactly why its model was refused.
 */
export function diffManifests(expected: Manifest, actual: Manifest): string[] {
  const lines: string[] = [];
  const byName = new Map(actual.tensors.map((t) => [t.name, t]));
  const describe = (t: TensorSpec) => `${t.dtype}[${t.shape.join(",")}]`;
  expected.tensors.forEach((want, i) => {
    const got = byName.get(want.name);
    if (!got) {
      lines.push(`missing ${want.name} ${describe(want)}`);
    } else if (got.dtype !== want.dtype || !sameShape(got.shape, want.shape)) {
      lines.push(`${want.name}: expected ${describe(want)}, got ${describe(got)}`);
    } else if (actual.tensors[i]?.name !== want.name) {
      lines.push(`${want.name}: expected at position ${i}, found at ${actual.tensors.indexOf(got)}`);
    }
  });
  const wanted = new Set(expected.tensors.map((t) => t.name));
  for (const t of actual.tensors) if (!wanted.has(t.name)) lines.push(`unexpected ${t.name} ${describe(t)}`);
  return lines;
}
