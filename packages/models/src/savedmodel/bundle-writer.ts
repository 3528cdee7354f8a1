/**
 * Writes a TensorFlow tensor bundle (`variables.index` + `variables.data-00000-of-00001`) from an
 * existing one with some float32 tensors replaced: every entry keeps its dtype and shape, its
 * bytes are copied (or replaced) into one new data shard, and its BundleEntryProto is rewritten
 * with the new offset, size and masked CRC32C. The object graph, optimizer slots and any other
 * entry travel unchanged, so `tf.saved_model.load` restores the SavedModel as before, with the
 * new values.
 */
import { readFileSync } from "node:fs";
import { atomicWriteFile } from "@cohort/tensors";
import { BundleError } from "./bundle.js";
import { crc32c, maskCrc } from "./crc32c.js";
import { encodeVarint, first, protoFields } from "./proto.js";
import { readTable } from "./table.js";
import { writeTable } from "./table-writer.js";

const DT_FLOAT = 1;

const varint = encodeVarint;
const field = (n: number, wire: number) => varint(n * 8 + wire);
const bytesField = (n: number, b: Uint8Array) => [...field(n, 2), ...varint(b.length), ...b];

/** BundleEntryProto {dtype=1, shape=2, shard_id=3, offset=4, size=5, crc32c=6 fixed32}. */
function entry(dtype: number, shape: Uint8Array | undefined, offset: number, size: number, crc: number): Uint8Array {
  const crcBytes = new Uint8Array(4);
  new DataView(crcBytes.buffer).setUint32(0, crc, true);
  return Uint8Array.from([
    ...field(1, 0), ...varint(dtype),
    ...(shape ? bytesField(2, shape) : []),
    ...field(4, 0), ...varint(offset),
    ...field(5, 0), ...varint(size),
    ...field(6, 5), ...crcBytes,
  ]);
}

/** Header {num_shards=1, endianness=2, version=3}: one shard, the rest as it was. */
function header(original: Uint8Array): Uint8Array {
  const rest = protoFields(original).filter((f) => f.field !== 1);
  const out: number[] = [...field(1, 0), ...varint(1)];
  for (const f of rest) {
    if (f.wire === 0) out.push(...field(f.field, 0), ...varint(f.int));
    else if (f.wire === 2) out.push(...bytesField(f.field, f.bytes));
  }
  return Uint8Array.from(out);
}

/** Rewrites the bundle at `from` (prefix, e.g. `<dir>/variables/variables`) to `to`, with `replace` (checkpoint key -> values). */
export async function rewriteBundle(from: string, to: string, replace: Map<string, Float32Array>): Promise<void> {
  const indexFile = `${from}.index`;
  const table = readTable(readFileSync(indexFile));
  const head = table.get("");
  if (!head) throw new BundleError(indexFile, "no bundle header entry");
  const numShards = first(protoFields(head), 1)?.int ?? 1;
  const shards = new Map<number, Uint8Array>();
  const shard = (id: number) => {
    if (!shards.has(id)) shards.set(id, readFileSync(`${from}.data-${String(id).padStart(5, "0")}-of-${String(numShards).padStart(5, "0")}`));
    return shards.get(id)!;
  };
  const index = new Map<string, Uint8Array>([["", header(head)]]);
  const data: Uint8Array[] = [];
  let offset = 0;
  const unused = new Set(replace.keys());
  for (const [key, value] of [...table].sort((a, b) => Buffer.compare(Buffer.from(a[0]), Buffer.from(b[0])))) {
    if (key === "") continue;
    const f = protoFields(value);
    if (first(f, 7)) throw new BundleError(indexFile, `tensor "${key}" is sliced (partitioned variables are not supported)`);
    const dtype = first(f, 1)?.int ?? 0;
    const shape = first(f, 2)?.bytes;
    const size = first(f, 5)?.int ?? 0;
    const at = first(f, 4)?.int ?? 0;
    const source = shard(first(f, 3)?.int ?? 0);
    if (at + size > source.length) throw new BundleError(indexFile, `tensor "${key}" lies past the end of its shard`);
    let raw = source.subarray(at, at + size);
    let crc = first(f, 6) ? new DataView(first(f, 6)!.bytes.buffer, first(f, 6)!.bytes.byteOffset, 4).getUint32(0, true) : maskCrc(crc32c(raw));
    const values = replace.get(key);
    if (values) {
      if (dtype !== DT_FLOAT || values.byteLength !== size) throw new BundleError(indexFile, `tensor "${key}": ${values.length} float32 values do not fit its ${size} bytes of dtype ${dtype}`);
      raw = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
      crc = maskCrc(crc32c(raw));
      unused.delete(key);
    }
    index.set(key, entry(dtype, shape, offset, raw.length, crc));
    data.push(Uint8Array.from(raw));
    offset += raw.length;
  }
  if (unused.size) throw new BundleError(indexFile, `no tensor ${[...unused].join(", ")} in the bundle`);
  // Data first: an index never names bytes that are not yet written.
  await atomicWriteFile(`${to}.data-00000-of-00001`, Buffer.concat(data));
  await atomicWriteFile(`${to}.index`, writeTable(index));
}
