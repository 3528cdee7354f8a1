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
    if (b < 0x80) return [value >= 2 ** 63 ? value - 2 ** 64 : value, pos];
    scale *= 128;
  }
  throw new ProtoError("varint longer than 10 bytes");
}

const EMPTY = new Uint8Array(0);

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
