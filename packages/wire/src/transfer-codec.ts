// Hand-written protobuf codecs for the two bulk messages of the Federation service: an upload's
// chunk (UploadMessage { chunk: UpdateChunk }) and a download's ModelChunk. They sit in front of
// the protobufjs codecs @grpc/proto-loader builds, and handle only the plain shapes those bulk
// messages take; anything else (headers, trailers, unknown or repeated fields, long varints,
// non-ASCII strings, odd JS values) goes to protobufjs, so the result is always what protobufjs
// gives. What they save per chunk: encoding writes the message straight into one Buffer (one
// copy of the data; protobufjs goes through fromObject, a writer queue and finish()); decoding
// returns `data` as a view of the received Buffer (as protobufjs does) without protobufjs's
// message object, Long conversion and toObject pass.
//
// Decoding is strict about bounds: every varint is limited in length and every length checked
// against the bytes that remain before anything is read; a message the fast path does not fully
// understand is handed to protobufjs as received (which rejects bad wire types and truncation).

/** Tag bytes (field number << 3 | wire type) of the fields the fast paths read and write. */
const TAG_1_VARINT = 0x08;
const TAG_2_LEN = 0x12;
const TAG_3_VARINT = 0x18;
const TAG_4_LEN = 0x22;

/** Longest varint the fast path reads for a 64-bit field: 8 bytes (< 2^56); values past 2^53 - 1 are declined too. */
const MAX_U64_VARINT_BYTES = 8;
/** Longest varint the fast path reads for a length: 4 bytes hold < 2^28 (gRPC messages stay under 4 MiB). */
const MAX_LENGTH_VARINT_BYTES = 4;

/** Cursor for the reader; `pos` is advanced by varint(). */
interface Cursor { pos: number }

/**
 * Reads an unsigned varint of at most `maxBytes` bytes at `c.pos`, not reading at or past `end`.
 * Returns -1 (cursor position then undefined) when it is longer, truncated, runs past `end`, or
 * exceeds 2^53 - 1 (below that every partial sum is exact, so the value is what protobufjs's
 * Long-to-number conversion gives).
 */
function varint(buf: Uint8Array, c: Cursor, end: number, maxBytes: number): number {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < maxBytes; i++) {
    if (c.pos >= end) return -1;
    const byte = buf[c.pos++]!;
    value += (byte & 0x7f) * scale;
    if (byte < 0x80) return value <= Number.MAX_SAFE_INTEGER ? value : -1;
    scale *= 128;
  }
  return -1;
}

function varintLength(value: number): number {
  let n = 1;
  while (value >= 128) {
    value = Math.floor(value / 128);
    n++;
  }
  return n;
}

function writeVarint(buf: Buffer, pos: number, value: number): number {
  while (value >= 128) {
    buf[pos++] = (value % 128) | 0x80;
    value = Math.floor(value / 128);
  }
  buf[pos++] = value;
  return pos;
}

function isUint(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

/** True for a string of ASCII characters only (then its UTF-8 bytes are its char codes, for any encoder). */
function isAscii(value: string): boolean {
  for (let i = 0; i < value.length; i++) if (value.charCodeAt(i) > 0x7f) return false;
  return true;
}

// ---------------------------------------------------------------------------------------------
// UploadMessage { oneof kind { UpdateHeader header = 1; UpdateChunk chunk = 2; UpdateTrailer trailer = 3; } }
// UpdateChunk { uint64 offset = 1; bytes data = 2; }

/**
 * The bytes protobufjs writes for `{ chunk: { offset, data } }` (with `kind` ignored, as protobufjs
 * ignores it), or undefined when `message` is not that plain shape: a header or trailer, a
 * chunk whose offset is not a safe non-negative integer or whose data is not a Uint8Array.
 */
export function encodeUploadChunk(message: unknown): Buffer | undefined {
  if (message === null || typeof message !== "object") return undefined;
  const m = message as { header?: unknown; chunk?: unknown; trailer?: unknown };
  // protobufjs encodes every oneof member that is set (the receiver keeps the last); leave those to it.
  if (m.header != null || m.trailer != null) return undefined;
  const chunk = m.chunk as { offset?: unknown; data?: unknown } | null | undefined;
  if (chunk === null || typeof chunk !== "object") return undefined;
  const { offset, data } = chunk;
  if (!isUint(offset) || !(data instanceof Uint8Array)) return undefined;
  const length = data.byteLength;
  const inner = 1 + varintLength(offset) + 1 + varintLength(length) + length;
  const out = Buffer.allocUnsafe(1 + varintLength(inner) + inner);
  out[0] = TAG_2_LEN;
  let pos = writeVarint(out, 1, inner);
  out[pos++] = TAG_1_VARINT;
  pos = writeVarint(out, pos, offset);
  out[pos++] = TAG_2_LEN;
  pos = writeVarint(out, pos, length);
  out.set(data, pos);
  return out;
}

/**
 * `{ chunk: { offset, data }, kind: "chunk" }` for an UploadMessage that holds exactly one chunk
 * field with at most one offset and exactly one data field, `data` a view of `bytes` (no copy);
 * undefined for anything else (left to protobufjs).
 */
export function decodeUploadChunk(bytes: Buffer): { chunk: { offset: number; data: Buffer }; kind: "chunk" } | undefined {
  const end = bytes.length;
  if (end < 2 || bytes[0] !== TAG_2_LEN) return undefined;
  const c: Cursor = { pos: 1 };
  const inner = varint(bytes, c, end, MAX_LENGTH_VARINT_BYTES);
  if (inner < 0 || c.pos + inner !== end) return undefined; // truncated, or more fields after the chunk
  let offset = -1;
  let data: Buffer | undefined;
  while (c.pos < end) {
    const tag = bytes[c.pos++];
    if (tag === TAG_1_VARINT && offset < 0) {
      offset = varint(bytes, c, end, MAX_U64_VARINT_BYTES);
      if (offset < 0) return undefined;
    } else if (tag === TAG_2_LEN && data === undefined) {
      const length = varint(bytes, c, end, MAX_LENGTH_VARINT_BYTES);
      if (length < 0 || length > end - c.pos) return undefined;
      data = bytes.subarray(c.pos, c.pos + length);
      c.pos += length;
    } else {
      return undefined; // unknown field, other wire type, repeated field: protobufjs decides
    }
  }
  if (data === undefined) return undefined;
  return { chunk: { offset: offset < 0 ? 0 : offset, data }, kind: "chunk" };
}

// ---------------------------------------------------------------------------------------------
// ModelChunk { uint64 offset = 1; bytes data = 2; uint64 total_bytes = 3; string sha256 = 4; }

/**
 * The bytes protobufjs writes for `{ offset, data, totalBytes, sha256 }` with all four set, or
 * undefined when one is missing or of another kind (integers: safe and non-negative; data: a
 * Uint8Array; sha256: an ASCII string).
 */
export function encodeModelChunk(message: unknown): Buffer | undefined {
  if (message === null || typeof message !== "object") return undefined;
  const { offset, data, totalBytes, sha256 } = message as { offset?: unknown; data?: unknown; totalBytes?: unknown; sha256?: unknown };
  if (!isUint(offset) || !isUint(totalBytes) || !(data instanceof Uint8Array) || typeof sha256 !== "string" || !isAscii(sha256)) return undefined;
  const length = data.byteLength;
  const size = 1 + varintLength(offset) + 1 + varintLength(length) + length + 1 + varintLength(totalBytes) + 1 + varintLength(sha256.length) + sha256.length;
  const out = Buffer.allocUnsafe(size);
  out[0] = TAG_1_VARINT;
  let pos = writeVarint(out, 1, offset);
  out[pos++] = TAG_2_LEN;
  pos = writeVarint(out, pos, length);
  out.set(data, pos);
  pos += length;
  out[pos++] = TAG_3_VARINT;
  pos = writeVarint(out, pos, totalBytes);
  out[pos++] = TAG_4_LEN;
  pos = writeVarint(out, pos, sha256.length);
  out.write(sha256, pos, "latin1");
  return out;
}

/**
 * `{ offset, data, totalBytes, sha256 }` for a ModelChunk whose fields (any order) each occur at
 * most once and are all known, `data` a view of `bytes`; missing fields take protobufjs's
 * defaults. Undefined for anything else (left to protobufjs).
 */
export function decodeModelChunk(bytes: Buffer): { offset: number; data: Buffer; totalBytes: number; sha256: string } | undefined {
  const end = bytes.length;
  const c: Cursor = { pos: 0 };
  let offset = -1;
  let totalBytes = -1;
  let data: Buffer | undefined;
  let sha256: string | undefined;
  while (c.pos < end) {
    const tag = bytes[c.pos++];
    if (tag === TAG_1_VARINT && offset < 0) {
      offset = varint(bytes, c, end, MAX_U64_VARINT_BYTES);
      if (offset < 0) return undefined;
    } else if (tag === TAG_3_VARINT && totalBytes < 0) {
      totalBytes = varint(bytes, c, end, MAX_U64_VARINT_BYTES);
      if (totalBytes < 0) return undefined;
    } else if ((tag === TAG_2_LEN && data === undefined) || (tag === TAG_4_LEN && sha256 === undefined)) {
      const length = varint(bytes, c, end, MAX_LENGTH_VARINT_BYTES);
      if (length < 0 || length > end - c.pos) return undefined;
      if (tag === TAG_2_LEN) data = bytes.subarray(c.pos, c.pos + length);
      else sha256 = bytes.toString("utf8", c.pos, c.pos + length);
      c.pos += length;
    } else {
      return undefined;
    }
  }
  return {
    offset: offset < 0 ? 0 : offset,
    data: data ?? Buffer.alloc(0),
    totalBytes: totalBytes < 0 ? 0 : totalBytes,
    sha256: sha256 ?? "",
  };
}

// ---------------------------------------------------------------------------------------------

type Serialize = (value: unknown) => Buffer;
type Deserialize = (bytes: Buffer) => unknown;

/** `fast` first, `fallback` (protobufjs) when it declines. */
export function withFastSerialize(fast: (value: unknown) => Buffer | undefined, fallback: Serialize): Serialize {
  return (value) => fast(value) ?? fallback(value);
}

/** `fast` first, `fallback` (protobufjs) when it declines; non-Buffer input always goes to `fallback`. */
export function withFastDeserialize(fast: (bytes: Buffer) => unknown, fallback: Deserialize): Deserialize {
  return (bytes) => (Buffer.isBuffer(bytes) ? fast(bytes) : undefined) ?? fallback(bytes);
}
