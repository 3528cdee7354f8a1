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

function mod(a: bigint): bigint {
  const r = a % PRIME;
  return r < 0n ? r + PRIME : r;
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

/** The value at `at` of the polynomial through `shares` (Lagrange interpolation). */
export function interpolateAt(shares: readonly Share[], at: number): bigint {
  const t = BigInt(at);
  let result = 0n;
  for (let i = 0; i < shares.length; i++) {
    let num = 1n;
    let den = 1n;
    const xi = BigInt(shares[i].x);
    for (let j = 0; j < shares.length; j++) {
      if (i === j) continue;
      const xj = BigInt(shares[j].x);
      num = mod(num * (t - xj));
      den = mod(den * (xi - xj));
    }
    result = mod(result + shares[i].y * num * inverse(den));
  }
  return result;
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
    const base = subset.slice(0, threshold);
    return subset.slice(threshold).every((s) => interpolateAt(base, s.x) === s.y);
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
