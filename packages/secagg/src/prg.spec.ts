import { createCipheriv } from "node:crypto";
import { describe, expect, it } from "vitest";
import { addMask, maskSlice } from "./prg.js";

describe("mask expansion (AES-256-CTR keystream)", () => {
  const seed = new Uint8Array(32).map((_, i) => i * 7);

  it("is the keystream of the seed, and any slice equals the same range of the whole", () => {
    const stream = createCipheriv("aes-256-ctr", seed, Buffer.alloc(16)).update(Buffer.alloc(4 * 103));
    const whole = maskSlice(seed, 0, 103);
    expect(Buffer.from(whole.buffer, whole.byteOffset, whole.byteLength)).toEqual(stream);
    for (const [start, count] of [[1, 10], [4, 40], [37, 66], [102, 1]]) expect(maskSlice(seed, start, count)).toEqual(whole.subarray(start, start + count));
  });

  it("adding and subtracting a mask cancel modulo 2^32", () => {
    const values = Uint32Array.from([0, 1, 0xffffffff, 12345]);
    const masked = values.slice();
    const mask = maskSlice(seed, 0, 4);
    addMask(masked, mask, 1);
    expect(masked).not.toEqual(values);
    addMask(masked, mask, -1);
    expect(masked).toEqual(values);
  });
});
