import { describe, expect, it } from "vitest";
import { agree, generateKeyPair, open, publicKeyOf, seal } from "./keys.js";

describe("X25519 agreement, HKDF and AES-GCM sealing", () => {
  it("derives the same pairwise key on both sides, bound to its context", () => {
    const a = generateKeyPair();
    const b = generateKeyPair();
    const ab = agree(a.privateKey, b.publicKey, "ctx");
    expect(agree(b.privateKey, a.publicKey, "ctx")).toEqual(ab);
    expect(agree(b.privateKey, a.publicKey, "other ctx")).not.toEqual(ab);
    expect(publicKeyOf(a.privateKey)).toEqual(a.publicKey);
  });

  it("opens what it sealed and refuses another key or associated data", () => {
    const key = agree(generateKeyPair().privateKey, generateKeyPair().publicKey, "k");
    const sealed = seal(key, new Uint8Array([1, 2, 3]), "aad");
    expect(open(key, sealed, "aad")).toEqual(new Uint8Array([1, 2, 3]));
    expect(() => open(key, sealed, "other")).toThrow();
    const flipped = sealed.slice();
    flipped[13] ^= 1;
    expect(() => open(key, flipped, "aad")).toThrow();
  });
});
