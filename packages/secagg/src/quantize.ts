/**
 * Fixed-point encoding of real values into Z_{2^32}, the ring the masks live in. A value is
 * clipped to [-clip, clip] and mapped to an integer in [0, 2^bits - 1]; the sum of m such
 * integers stays below 2^32 as long as m <= maxSummands(bits), so the sum of the survivors'
 * encodings is exact modulo 2^32 and decodes with m known.
 */
export interface Quantization {
  /** Values are clipped to [-clippingRange, clippingRange] before quantizing. */
  clippingRange: number;
  /** Each value becomes an integer of this many bits. */
  bits: number;
}

/** The ring's modulus is 2^32 (Uint32 arithmetic wraps there on its own). */
export const MODULUS_BITS = 32;

/** How many quantized values can be added before the sum could wrap modulo 2^32. */
export function maxSummands(bits: number): number {
  return Math.floor((2 ** MODULUS_BITS - 1) / (2 ** bits - 1));
}

/** Quantizes `values` into `out` (same length): round((clip(v) + c) / (2c) * (2^bits - 1)). */
export function quantizeInto(values: ArrayLike<number>, q: Quantization, out: Uint32Array): void {
  const c = q.clippingRange;
  const levels = 2 ** q.bits - 1;
  const scale = levels / (2 * c);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    // NaN clips to the middle (0): a non-finite value must not poison the ring.
    const clipped = v > c ? c : v < -c ? -c : v === v ? v : 0;
    out[i] = Math.round((clipped + c) * scale);
  }
}

/** Decodes a sum of `summands` quantized values (already unmasked, modulo 2^32) into reals. */
export function dequantizeSumInto(sum: Uint32Array, summands: number, q: Quantization, out: Float64Array): void {
  const c = q.clippingRange;
  const scale = (2 * c) / (2 ** q.bits - 1);
  const offset = summands * c;
  for (let i = 0; i < sum.length; i++) out[i] = sum[i] * scale - offset;
}

/** The largest error of one quantized value (half a step): what a sum of m is exact to, m times over. */
export function quantizationStep(q: Quantization): number {
  return (2 * q.clippingRange) / (2 ** q.bits - 1);
}
