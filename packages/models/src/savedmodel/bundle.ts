/**
 * TensorFlow tensor bundles (`variables/variables.index` + `variables.data-NNNNN-of-NNNNN`):
 * the index is a LevelDB table from checkpoint key to BundleEntryProto {dtype=1, shape=2,
 * shard_id=3, offset=4, size=5, crc32c=6, slices=7}; the empty key holds the
 * BundleHeaderProto {num_shards=1, endianness=2}. Each tensor's masked CRC32C is verified.
 */
import { readFileSync } from "node:fs";
import { crc32c, unmaskCrc } from "./crc32c.js";
import { first, protoFields, readVarint } from "./proto.js";
import { readTable } from "./table.js";

export class BundleError extends Error {
  constructor(readonly file: string, problem: string) {
    super(`${file}: ${problem}`);
    this.name = "BundleError";
  }
}

const DT_FLOAT = 1;
const DT_STRING = 7;
const DTYPE_NAMES: Record<number, string> = { 1: "float32", 2: "float64", 3: "int32", 4: "uint8", 6: "int8", 7: "string", 9: "int64", 10: "bool", 19: "float16" };

export interface BundleTensor {
  dtype: string;
  shape: number[];
  /** float32 tensors only; other dtypes are listed but not decoded. */
  float32?: Float32Array;
  /** string tensors: each element's bytes. */
  strings?: Uint8Array[];
}

function shapeOf(bytes: Uint8Array | undefined): number[] {
  if (!bytes) return [];
  return protoFields(bytes).filter((f) => f.field === 2).map((dim) => first(protoFields(dim.bytes), 1)?.int ?? 0);
}

function decodeStrings(raw: Uint8Array, count: number): Uint8Array[] {
  const lengths: number[] = [];
  let i = 0;
  for (let k = 0; k < count; k++) {
    const [n, j] = readVarint(raw, i);
    lengths.push(n);
    i = j;
  }
  i += 4; // masked CRC32C of the lengths
  return lengths.map((n) => raw.subarray(i, (i += n)));
}

/** Reads every entry of the bundle at `prefix` (e.g. `<dir>/variables/variables`). */
export function readBundle(prefix: string): Map<string, BundleTensor> {
  const indexFile = `${prefix}.index`;
  let table: Map<string, Uint8Array>;
  try {
    table = readTable(readFileSync(indexFile));
  } catch (err) {
    throw new BundleError(indexFile, `not a readable variables index (${(err as Error).message})`);
  }
  const header = table.get("");
  if (!header) throw new BundleError(indexFile, "no bundle header entry");
  const headerFields = protoFields(header);
  const numShards = first(headerFields, 1)?.int ?? 1;
  if ((first(headerFields, 2)?.int ?? 0) !== 0) throw new BundleError(indexFile, "big-endian bundles are not supported");
  const shards = new Map<number, Uint8Array>();
  const shard = (id: number): { file: string; data: Uint8Array } => {
    const file = `${prefix}.data-${String(id).padStart(5, "0")}-of-${String(numShards).padStart(5, "0")}`;
    if (!shards.has(id)) {
      try {
        shards.set(id, readFileSync(file));
      } catch (err) {
        throw new BundleError(file, `cannot read variables shard (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
      }
    }
    return { file, data: shards.get(id)! };
  };
  const out = new Map<string, BundleTensor>();
  for (const [key, value] of table) {
    if (key === "") continue;
    const f = protoFields(value);
    if (first(f, 7)) throw new BundleError(indexFile, `tensor "${key}" is sliced (partitioned variables are not supported)`);
    const dtypeId = first(f, 1)?.int ?? 0;
    const shape = shapeOf(first(f, 2)?.bytes);
    const { file, data } = shard(first(f, 3)?.int ?? 0);
    const offset = first(f, 4)?.int ?? 0;
    const size = first(f, 5)?.int ?? 0;
    if (offset + size > data.length) throw new BundleError(file, `tensor "${key}" lies at bytes ${offset}..${offset + size} but the shard has ${data.length} (truncated?)`);
    const raw = data.subarray(offset, offset + size);
    const crc = first(f, 6);
    if (crc && dtypeId !== DT_STRING) {
      const want = unmaskCrc(new DataView(crc.bytes.buffer, crc.bytes.byteOffset, 4).getUint32(0, true));
      if (crc32c(raw) !== want) throw new BundleError(file, `tensor "${key}": CRC32C mismatch (corrupt variables data)`);
    }
    const tensor: BundleTensor = { dtype: DTYPE_NAMES[dtypeId] ?? `dtype#${dtypeId}`, shape };
    const count = shape.reduce((a, b) => a * b, 1);
    if (dtypeId === DT_FLOAT) {
      if (size !== count * 4) throw new BundleError(file, `tensor "${key}": ${size} bytes for float32 shape [${shape}]`);
      tensor.float32 = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + size));
    } else if (dtypeId === DT_STRING) {
      tensor.strings = decodeStrings(raw, count);
    }
    out.set(key, tensor);
  }
  return out;
}
