import { createCipheriv } from "node:crypto";

/** AES-CTR works in 16-byte blocks: 4 ring elements. */
const BLOCK_ELEMENTS = 4;

/**
 * The mask a 32-byte seed expands to, element `start` to `start + count` (uint32, little-endian):
 * the AES-256-CTR keystream of the seed from block start / 4. Any slice can be generated on its
 * own, so the aggregator regenerates masks slice by slice without ever holding a whole one.
 */
export function maskSlice(seed: Uint8Array, start: number, count: number): Uint32Array {
  const firstBlock = Math.floor(start / BLOCK_ELEMENTS);
  const skip = start - firstBlock * BLOCK_ELEMENTS;
  const blocks = Math.ceil((skip + count) / BLOCK_ELEMENTS);
  const iv = Buffer.alloc(16);
  // The counter block's low 64 bits hold the block index (models stay far below 2^64 blocks).
  iv.writeBigUInt64BE(BigInt(firstBlock), 8);
  const cipher = createCipheriv("aes-256-ctr", seed, iv);
  const stream = cipher.update(Buffer.alloc(blocks * 16));
  const words = new Uint32Array(stream.buffer, stream.byteOffset, blocks * BLOCK_ELEMENTS);
  // Little-endian hosts only (as the rest of the wire format): the words are the stream's bytes.
  return words.slice(skip, skip + count);
}

/** out[i] += sign * mask[i] (mod 2^32). */
export function addMask(out: Uint32Array, mask: Uint32Array, sign: 1 | -1): void {
  if (sign === 1) for (let i = 0; i < out.length; i++) out[i] = out[i] + mask[i];
  else for (let i = 0; i < out.length; i++) out[i] = out[i] - mask[i];
}
