/**
 * LevelDB-format table files (TensorFlow's `variables.index`): footer -> index block -> data
 * blocks of prefix-compressed key/value entries, optionally Snappy-compressed. Every block's
 * masked CRC32C is checked so that a corrupt index is caught before weights are read.
 */
import { crc32c, unmaskCrc } from "./crc32c.js";
import { readVarint } from "./proto.js";

const TABLE_MAGIC = [0x57, 0xfb, 0x80, 0x8b, 0x24, 0x75, 0x47, 0xdb]; // 0xdb4775248b80fb57, little-endian

export class TableError extends Error {}

export function snappyDecompress(src: Uint8Array): Uint8Array {
  let [n, i] = readVarint(src, 0);
  const out = new Uint8Array(n);
  let o = 0;
  while (i < src.length) {
    const tag = src[i++];
    const type = tag & 3;
    if (type === 0) {
      let len = tag >> 2;
      if (len >= 60) {
        const nb = len - 59;
        len = 0;
        for (let k = 0; k < nb; k++) len |= src[i + k] << (8 * k);
        i += nb;
      }
      len += 1;
      if (o + len > n || i + len > src.length) throw new TableError("snappy literal overruns its block");
      out.set(src.subarray(i, i + len), o);
      i += len;
      o += len;
      continue;
    }
    let len: number;
    let off: number;
    if (type === 1) {
      len = ((tag >> 2) & 7) + 4;
      off = ((tag >> 5) << 8) | src[i++];
    } else if (type === 2) {
      len = (tag >> 2) + 1;
      off = src[i] | (src[i + 1] << 8);
      i += 2;
    } else {
      len = (tag >> 2) + 1;
      off = (src[i] | (src[i + 1] << 8) | (src[i + 2] << 16) | (src[i + 3] << 24)) >>> 0;
      i += 4;
    }
    if (off === 0 || off > o || o + len > n) throw new TableError("snappy copy out of range");
    for (let k = 0; k < len; k++, o++) out[o] = out[o - off]; // byte-wise: copies may overlap
  }
  if (o !== n) throw new TableError(`snappy block decompressed to ${o} bytes, header said ${n}`);
  return out;
}

function readBlock(buf: Uint8Array, offset: number, size: number): Uint8Array {
  if (offset + size + 5 > buf.length) throw new TableError(`block at ${offset} (+${size}) runs past the end of the file (${buf.length} bytes)`);
  const data = buf.subarray(offset, offset + size);
  const type = buf[offset + size];
  const stored = new DataView(buf.buffer, buf.byteOffset + offset + size + 1, 4).getUint32(0, true);
  if (crc32c(buf.subarray(offset, offset + size + 1)) !== unmaskCrc(stored)) throw new TableError(`block at ${offset}: CRC32C mismatch (corrupt file)`);
  if (type === 0) return data;
  if (type === 1) return snappyDecompress(data);
  throw new TableError(`block at ${offset}: unknown compression type ${type}`);
}

function* blockEntries(block: Uint8Array): Generator<[Uint8Array, Uint8Array]> {
  if (block.length < 4) throw new TableError("block shorter than its restart count");
  const view = new DataView(block.buffer, block.byteOffset, block.length);
  const restarts = view.getUint32(block.length - 4, true);
  const end = block.length - 4 - 4 * restarts;
  if (end < 0) throw new TableError("block restart array larger than the block");
  let key = new Uint8Array(0);
  let i = 0;
  while (i < end) {
    let shared: number, nonShared: number, valueLen: number;
    [shared, i] = readVarint(block, i);
    [nonShared, i] = readVarint(block, i);
    [valueLen, i] = readVarint(block, i);
    if (shared > key.length || i + nonShared + valueLen > end) throw new TableError("block entry out of range");
    const next = new Uint8Array(shared + nonShared);
    next.set(key.subarray(0, shared));
    next.set(block.subarray(i, i + nonShared), shared);
    key = next;
    i += nonShared;
    yield [key, block.subarray(i, i + valueLen)];
    i += valueLen;
  }
}

/** All entries of the table, keyed by their (UTF-8) key. */
export function readTable(buf: Uint8Array): Map<string, Uint8Array> {
  if (buf.length < 48) throw new TableError(`${buf.length} bytes: too short for a table footer`);
  const footer = buf.subarray(buf.length - 48);
  if (!TABLE_MAGIC.every((b, k) => footer[40 + k] === b)) throw new TableError("no LevelDB table magic at the end (not a TensorFlow checkpoint index, or truncated)");
  let i = 0;
  [, i] = readVarint(footer, i); // metaindex offset
  [, i] = readVarint(footer, i); // metaindex size
  const [indexOffset, j] = readVarint(footer, i);
  const [indexSize] = readVarint(footer, j);
  const out = new Map<string, Uint8Array>();
  for (const [, handle] of blockEntries(readBlock(buf, indexOffset, indexSize))) {
    const [offset, k] = readVarint(handle, 0);
    const [size] = readVarint(handle, k);
    for (const [key, value] of blockEntries(readBlock(buf, offset, size))) out.set(Buffer.from(key).toString("utf8"), value);
  }
  return out;
}
