import type { Manifest, WeightSet } from "@cohort/tensors";

/**
 * Update `p` of a manifest of 1-D tensors, deterministic: float32/float64 values spread over
 * five orders of magnitude (every 11th a -0), int32/int8 `p * 10 - i`, float16 bit patterns
 * around 1.0. The fusion specs fold these to check the SIMD, JS and arena paths against each other.
 */
export function mixedUpdate(manifest: Manifest, p: number): WeightSet {
  let s = 977 * p + 3;
  const rand = () => ((s = (s * 16807) % 2147483647) / 2147483647) * 2 - 1;
  return manifest.tensors.map((t) => {
    const n = t.shape[0];
    const data = t.dtype === "float64" ? new Float64Array(n) : t.dtype === "int32" ? new Int32Array(n)
      : t.dtype === "float16" ? new Uint16Array(n) : t.dtype === "int8" ? new Int8Array(n) : new Float32Array(n);
    for (let i = 0; i < n; i++) {
      data[i] = t.dtype === "int32" || t.dtype === "int8" ? p * 10 - i : t.dtype === "float16" ? 0x3c00 + p * 64 + i
        : i % 11 === 0 ? -0 : rand() * 10 ** ((p + i) % 5 - 2);
    }
    return { ...t, data };
  });
}

/** Fold weights of very different sizes, one per update (FedAvg-like and not). */
export const MIXED_FOLD_WEIGHTS = [0.1, 7, 1e6, 3, 0.5, 250, 1 / 3];
