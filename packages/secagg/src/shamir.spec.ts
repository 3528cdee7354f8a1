import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { bigIntToBytes, bytesToBigInt, interpolateAt, reconstructChecked, split } from "./shamir.js";

describe("Shamir sharing over GF(2^521 - 1)", () => {
  const secret = new Uint8Array(randomBytes(32));
  const xs = [1, 2, 4, 5, 7, 9];

  it("recovers the secret from any threshold shares and not from fewer", () => {
    const shares = split(secret, xs, 3);
    for (const subset of [[0, 1, 2], [3, 4, 5], [0, 2, 5]]) {
      expect(bigIntToBytes(interpolateAt(subset.map((i) => shares[i]), 0), 32)).toEqual(secret);
    }
    // Two shares fit a line through any secret: they give a different value.
    expect(interpolateAt(shares.slice(0, 2), 0)).not.toBe(bytesToBigInt(secret));
  });

  it("checks the extra shares and outvotes a single wrong one", () => {
    const shares = split(secret, xs, 3);
    expect(reconstructChecked(shares, 3)).toEqual({ ok: true, secret: bytesToBigInt(secret), outliers: [] });
    const tampered = shares.map((s) => (s.x === 5 ? { ...s, y: s.y + 1n } : s));
    expect(reconstructChecked(tampered, 3)).toEqual({ ok: true, secret: bytesToBigInt(secret), outliers: [5] });
  });

  it("says inconsistent when the wrong share cannot be outvoted, too-few below the threshold", () => {
    const shares = split(secret, xs.slice(0, 4), 3);
    const tampered = shares.map((s) => (s.x === 2 ? { ...s, y: s.y + 7n } : s));
    expect(reconstructChecked(tampered, 3)).toMatchObject({ ok: false, reason: "inconsistent" });
    expect(reconstructChecked(shares.slice(0, 2), 3)).toMatchObject({ ok: false, reason: "too-few" });
  });

  it("refuses a threshold above the shares and repeated positions", () => {
    expect(() => split(secret, [1, 2], 3)).toThrow(/threshold/);
    expect(() => split(secret, [1, 1, 2], 2)).toThrow(/distinct/);
  });
});
