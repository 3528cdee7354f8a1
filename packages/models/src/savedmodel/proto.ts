/**
 * Just enough of the protobuf wire format to read SavedModel pieces without their schemas:
 * a message is a list of (field number, wire type, value) and callers pick the fields they know.
 */
export class ProtoError extends Error {}

export interface ProtoField {
  field: number;
  wire: number;
  /** Varints (wire 0) as numbers; int64 values >= 2^63 come back negative (-1 = unknown dim). */
  int: number;
  /** Bytes of length-delimited (2) and fixed (1, 5) fields. */
  bytes: Uint8Array;
}

export function readVarint(buf: Uint8Array, pos: number): [number, number] {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < 10; i++) {
    if (pos >= buf.length) throw new ProtoError("truncated varint");
    const b = buf[pos++];
    value += (b & 0x7f) * scale;
    if (b < 0x80) return [value >= 2 ** 63 ? wideVarint(buf, pos - i - 1) : value, pos];
    scale *= 128;
  }
  throw new ProtoError("varint longer than 10 bytes");
}

/** A varint past 2^63 (a negative int64/int32, e.g. -1 for an unknown dimension) decoded exactly: doubles would round 2^64 - 1 to 2^64, i.e. -1 to 0. */
function wideVarint(buf: Uint8Array, start: number): number {
  let value = 0n;
  for (let i = 0, pos = start; i < 10; i++, pos++) {
    value |= BigInt(buf[pos]! & 0x7f) << BigInt(7 * i);
    if (buf[pos]! < 0x80) break;
  }
  return Number(BigInt.asIntN(64, value));
}

const EMPTY = new Uint8Array(0);

/** A non-negative integer as a protobuf varint (the writers' counterpart of readVarint). */
export function encodeVarint(n: number): number[] {
  const out: number[] = [];
  while (n >= 0x80) { out.push((n % 0x80) | 0x80); n = Math.floor(n / 0x80); }
  out.push(n);
  return out;
}

export function protoFields(buf: Uint8Array): ProtoField[] {
  const out: ProtoField[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const [key, p] = readVarint(buf, pos);
    pos = p;
    const field = Math.floor(key / 8);
    const wire = key & 7;
    if (wire === 0) {
      const [v, q] = readVarint(buf, pos);
      pos = q;
      out.push({ field, wire, int: v, bytes: EMPTY });
    } else if (wire === 2) {
      const [n, q] = readVarint(buf, pos);
      if (q + n > buf.length) throw new ProtoError(`field ${field}: ${n} bytes announced, ${buf.length - q} left`);
      out.push({ field, wire, int: 0, bytes: buf.subarray(q, q + n) });
      pos = q + n;
    } else if (wire === 1 || wire === 5) {
      const n = wire === 1 ? 8 : 4;
      if (pos + n > buf.length) throw new ProtoError(`field ${field}: truncated fixed${n * 8}`);
      out.push({ field, wire, int: 0, bytes: buf.subarray(pos, pos + n) });
      pos += n;
    } else {
      throw new ProtoError(`unsupported wire type ${wire} at byte ${pos}`);
    }
  }
  return out;
}

/** First field with that number, if any. */
export const first = (fields: ProtoField[], n: number): ProtoField | undefined => fields.find((f) => f.field === n);
export const text = (b: Uint8Array | undefined): string => (b ? Buffer.from(b).toString("utf8") : "");

/** All fields with that number. */
export const all = (fields: ProtoField[], n: number): ProtoField[] => fields.filter((f) => f.field === n);

/** A repeated varint field, packed (wire 2) or one value per field. */
export function varints(fields: ProtoField[], n: number): number[] {
  const out: number[] = [];
  for (const f of fields) {
    if (f.field !== n) continue;
    if (f.wire === 0) { out.push(f.int); continue; }
    for (let pos = 0; pos < f.bytes.length;) {
      const [v, next] = readVarint(f.bytes, pos);
      out.push(v);
      pos = next;
    }
  }
  return out;
}

/** A repeated float field (wire 5), packed or not. */
export function floats(fields: ProtoField[], n: number): number[] {
  const out: number[] = [];
  for (const f of fields) {
    if (f.field !== n) continue;
    const view = new DataView(f.bytes.buffer, f.bytes.byteOffset, f.bytes.length);
    for (let pos = 0; pos + 4 <= f.bytes.length; pos += 4) out.push(view.getFloat32(pos, true));
  }
  return out;
}

/** A map<string, V> field: the entries' key (1) and value (2) bytes. */
export function mapEntries(fields: ProtoField[], n: number): Array<[string, Uint8Array]> {
  return all(fields, n).map((e) => {
    const kv = protoFields(e.bytes);
    return [text(first(kv, 1)?.bytes), first(kv, 2)?.bytes ?? EMPTY];
  });
}
