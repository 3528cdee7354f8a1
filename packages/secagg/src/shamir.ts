import { randomBytes } from "node:crypto";

/**
 * Shamir secret sharing over GF(p), p = 2^521 - 1 (a Mersenne prime): any 32-byte secret (an
 * X25519 private key, a mask seed) is an element of the field, and a share is 66 bytes. The
 * share of the party at position x is f(x) for a random polynomial f of degree threshold - 1
 * with f(0) = secret.
 */
export const PRIME = (1n << 521n) - 1n;
/** Bytes of a share's value on the wire (521 bits). */
export const SHARE_BYTES = 66;

export interface Share { x: number; y: bigint }

const BITS = 521n;

/** a mod p; for p = 2^521 - 1 a non-negative a reduces by folding its high bits onto its low ones (no division). */
function mod(a: bigint): bigint {
  if (a < 0n) {
    const r = a % PRIME;
    return r === 0n ? 0n : r + PRIME;
  }
  while (a > PRIME) a = (a & PRIME) + (a >> BITS);
  return a === PRIME ? 0n : a;
}

function inverse(a: bigint): bigint {
  // Extended Euclid; a is never 0 here (distinct, non-zero x's).
  let [r0, r1] = [mod(a), PRIME];
  let [s0, s1] = [1n, 0n];
  while (r1 !== 0n) {
    const q = r0 / r1;
    [r0, r1] = [r1, r0 - q * r1];
    [s0, s1] = [s1, s0 - q * s1];
  }
  return mod(s0);
}

function randomElement(): bigint {
  return bytesToBigInt(randomBytes(SHARE_BYTES)) % PRIME;
}

export function bytesToBigInt(bytes: Uint8Array): bigint {
  let v = 0n;
  for (const b of bytes) v = (v << 8n) | BigInt(b);
  return v;
}

export function bigIntToBytes(v: bigint, length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = length - 1; i >= 0; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  if (v !== 0n) throw new RangeError(`value does not fit ${length} bytes`);
  return out;
}

/** Shares `secret` at the positions `xs` (distinct, >= 1) so that any `threshold` of them recover it. */
export function split(secret: Uint8Array, xs: readonly number[], threshold: number): Share[] {
  if (threshold < 1 || threshold > xs.length) throw new RangeError(`threshold ${threshold} must be in [1, ${xs.length}]`);
  if (new Set(xs).size !== xs.length || xs.some((x) => !Number.isSafeInteger(x) || x < 1)) throw new RangeError("share positions must be distinct positive integers");
  const coefficients = [bytesToBigInt(secret), ...Array.from({ length: threshold - 1 }, randomElement)];
  return xs.map((x) => ({ x, y: evaluate(coefficients, BigInt(x)) }));
}

function evaluate(coefficients: readonly bigint[], x: bigint): bigint {
  let y = 0n;
  for (let i = coefficients.length - 1; i >= 0; i--) y = mod(y * x + coefficients[i]);
  return y;
}

/**
 * Inverses of the small differences x_i - x_j of share positions (party positions, so at most
 * the federation's size in magnitude): interpolation then needs no modular inversion of its own,
 * the costly step (an extended Euclid over 521-bit numbers) when a thousand secrets are recovered.
 */
const smallInverses = new Map<number, bigint>();

function inverseOf(d: number): bigint {
  let v = smallInverses.get(d);
  if (v === undefined) {
    v = inverse(BigInt(d));
    smallInverses.set(d, v);
  }
  return v;
}

/** The polynomial through `shares` in Newton's form (divided differences): O(t^2) once, then O(t) per point. */
export class Interpolation {
  private readonly xs: number[];
  private readonly coefficients: bigint[];

  constructor(shares: readonly Share[]) {
    this.xs = shares.map((s) => s.x);
    const c = shares.map((s) => s.y);
    for (let j = 1; j < c.length; j++) {
      for (let i = c.length - 1; i >= j; i--) c[i] = mod(mod(c[i] - c[i - 1]) * inverseOf(this.xs[i] - this.xs[i - j]));
    }
    this.coefficients = c;
  }

  at(x: number): bigint {
    const c = this.coefficients;
    let result = c[c.length - 1];
    for (let k = c.length - 2; k >= 0; k--) result = mod(result * mod(BigInt(x - this.xs[k])) + c[k]);
    return result;
  }
}

/** The value at `at` of the polynomial through `shares`. */
export function interpolateAt(shares: readonly Share[], at: number): bigint {
  return new Interpolation(shares).at(at);
}

/** Outcome of a checked reconstruction: the secret, or the positions whose shares disagree. */
export type Reconstruction =
  | { ok: true; secret: bigint; outliers: number[] }
  | { ok: false; reason: "too-few" | "inconsistent"; outliers: number[] };

/**
 * Reconstructs from all `shares` given and checks them: every share must lie on the polynomial of
 * degree threshold - 1 through the first `threshold` (only possible to check with more than
 * threshold shares). When they do not, one wrong share is looked for (each left out in turn):
 * if the others agree on one polynomial with at least threshold + 1 shares, that one is the
 * outlier and the secret is still right; otherwise the shares are "inconsistent".
 */
export function reconstructChecked(shares: readonly Share[], threshold: number): Reconstruction {
  if (shares.length < threshold) return { ok: false, reason: "too-few", outliers: [] };
  const fits = (subset: readonly Share[]) => {
    const polynomial = new Interpolation(subset.slice(0, threshold));
    return subset.slice(threshold).every((s) => polynomial.at(s.x) === s.y);
  };
  if (fits(shares)) return { ok: true, secret: interpolateAt(shares.slice(0, threshold), 0), outliers: [] };
  if (shares.length >= threshold + 2) {
    for (let i = 0; i < shares.length; i++) {
      const rest = shares.filter((_, j) => j !== i);
      if (fits(rest)) return { ok: true, secret: interpolateAt(rest.slice(0, threshold), 0), outliers: [shares[i].x] };
    }
  }
  return { ok: false, reason: "inconsistent", outliers: shares.map((s) => s.x) };
}
