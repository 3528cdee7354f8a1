/**
 * Writes LevelDB-format tables as TensorFlow's `variables.index` uses them: one uncompressed data
 * block (every entry a restart point, keys unshared), an empty metaindex block, an index block,
 * each followed by its type byte and masked CRC32C, then the 48-byte footer with the magic.
 * Readers (TensorFlow's and table.ts) accept any block size, so one block is enough.
 */
import { crc32c, maskCrc } from "./crc32c.js";
import { encodeVarint } from "./proto.js";

const TABLE_MAGIC = [0x57, 0xfb, 0x80, 0x8b, 0x24, 0x75, 0x47, 0xdb];
const FOOTER_BYTES = 48;

const varint = encodeVarint;

const u32 = (n: number): number[] => [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];

function block(entries: Array<[Uint8Array, Uint8Array]>): Uint8Array {
  const parts: number[] = [];
  const restarts: number[] = [];
  for (const [key, value] of entries) {
    restarts.push(parts.length);
    parts.push(...varint(0), ...varint(key.length), ...varint(value.length));
    for (const b of key) parts.push(b);
    for (const b of value) parts.push(b);
  }
  if (restarts.length === 0) restarts.push(0);
  for (const r of restarts) parts.push(...u32(r));
  parts.push(...u32(restarts.length));
  return Uint8Array.from(parts);
}

/** A table of `entries` (sorted here by key bytes, as the format requires). */
export function writeTable(entries: Map<string, Uint8Array>): Uint8Array {
  const sorted = [...entries].map(([k, v]): [Uint8Array, Uint8Array] => [Buffer.from(k, "utf8"), v]).sort((a, b) => Buffer.compare(a[0], b[0]));
  const chunks: Uint8Array[] = [];
  let size = 0;
  const put = (contents: Uint8Array): { offset: number; size: number } => {
    const offset = size;
    const trailer = new Uint8Array(5); // type 0 (uncompressed) + masked CRC32C of contents and type
    const withType = new Uint8Array(contents.length + 1);
    withType.set(contents);
    new DataView(trailer.buffer).setUint32(1, maskCrc(crc32c(withType)), true);
    chunks.push(contents, trailer);
    size += contents.length + 5;
    return { offset, size: contents.length };
  };
  const handle = (h: { offset: number; size: number }) => Uint8Array.from([...varint(h.offset), ...varint(h.size)]);
  const data = put(block(sorted));
  const meta = put(block([]));
  const lastKey = sorted.length ? sorted[sorted.length - 1]![0] : new Uint8Array(0);
  const index = put(block([[lastKey, handle(data)]]));
  const footer = new Uint8Array(FOOTER_BYTES);
  footer.set([...handle(meta), ...handle(index)]);
  footer.set(TABLE_MAGIC, 40);
  chunks.push(footer);
  return Buffer.concat(chunks);
}
