/** IEEE 754 half precision, kept as raw uint16 bits (Node 20 has no Float16Array). */

/** Half-precision bits to a number (subnormals, infinities and NaN included). */
export function float16ToNumber(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 0x1f) return fraction ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/**
 * A number to the nearest half-precision bits (ties to even), via its float32 bits. Values
 * beyond the half range become ±Infinity, as a cast in numpy or PyTorch does.
 */
export function numberToFloat16(value: number): number {
  f32[0] = value;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exponent = (x >>> 23) & 0xff;
  let mantissa = x & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 : 0);
  const e = exponent - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    // Subnormal half (or zero): shift the implicit 1 in, round to nearest even.
    if (e < -10) return sign;
    mantissa |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    const rest = mantissa & ((1 << shift) - 1);
    let bits = mantissa >>> shift;
    if (rest > half || (rest === half && bits & 1)) bits += 1;
    return sign | bits;
  }
  let bits = (e << 10) | (mantissa >>> 13);
  const rest = mantissa & 0x1fff;
  // Round to nearest even; a carry out of the mantissa correctly bumps the exponent.
  if (rest > 0x1000 || (rest === 0x1000 && bits & 1)) bits += 1;
  return sign | bits;
}

let decodeTable: Float32Array | undefined;

/** Decodes half bits to float32 through a 64 Ki-entry table (256 KiB, built on first use). */
export function float16ArrayToFloat32(bits: Uint16Array, out = new Float32Array(bits.length)): Float32Array {
  if (!decodeTable) {
    decodeTable = new Float32Array(65536);
    for (let i = 0; i < 65536; i++) decodeTable[i] = float16ToNumber(i);
  }
  const table = decodeTable;
  for (let i = 0; i < bits.length; i++) out[i] = table[bits[i]];
  return out;
}

/** Encodes float32 values to half bits, rounding to nearest even. */
export function float32ArrayToFloat16(values: Float32Array, out = new Uint16Array(values.length)): Uint16Array {
  for (let i = 0; i < values.length; i++) out[i] = numberToFloat16(values[i]);
  return out;
}
