import { describe, expect, it } from "vitest";
import { Crc32, formatCrc32 } from "./checksum.js";

const ascii = (s: string) => new TextEncoder().encode(s);

describe("Crc32", () => {
  it("gives the CRC-32/ISO-HDLC check value for \"123456789\"", () => {
    // The catalogue's check value of the IEEE 802.3 CRC (zlib, PNG, gzip).
    expect(new Crc32().update(ascii("123456789")).value).toBe(0xcbf43926);
    expect(new Crc32().value).toBe(0);
  });

  it("is the same fed in pieces as in one call", () => {
    const bytes = new Uint8Array(100_003).map((_, i) => Math.imul(i, 2654435761) >>> 24);
    const whole = new Crc32().update(bytes).value;
    const pieces = new Crc32();
    for (let at = 0; at < bytes.length; at += 4099) pieces.update(bytes.subarray(at, at + 4099));
    expect(pieces.value).toBe(whole);
  });

  it("changes when one bit flips or two pieces swap", () => {
    const bytes = new Uint8Array(8192).map((_, i) => Math.imul(i + 1, 2654435761) >>> 24);
    const reference = new Crc32().update(bytes).value;
    const flipped = bytes.slice();
    flipped[5000] ^= 0x10;
    expect(new Crc32().update(flipped).value).not.toBe(reference);
    const swapped = new Crc32().update(bytes.subarray(4096)).update(bytes.subarray(0, 4096)).value;
    expect(swapped).not.toBe(reference);
  });

  it("shows as 8 hex digits", () => {
    expect(formatCrc32(0xcbf43926)).toBe("cbf43926");
    expect(formatCrc32(0x1f)).toBe("0000001f");
  });
});
