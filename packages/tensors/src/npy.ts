import { type DType, type TypedArray, bytesPerElement, viewAs } from "./dtype.js";
import { elementCount } from "./shape.js";

/**
 * NumPy `.npy` files (format versions 1.0, 2.0 and 3.0).
 *
 * The header is a Python dict literal; it is read by a small tokenizer that knows only the
 * literals numpy writes (strings, integers, True/False/None, tuples, lists, dicts), never
 * evaluated. Every size is checked against the bytes actually present before anything is
 * allocated, so a header claiming a huge shape costs nothing. Big-endian data is byte-swapped
 * and Fortran-order data transposed, so `data` is always little-endian C order.
 */

/** An n-dimensional array as read from or written to a `.npy` file. */
export interface NpyArray {
  dtype: DType;
  shape: number[];
  data: TypedArray;
}

export type NpyErrorCode =
  | "npy.bad_magic" | "npy.bad_version" | "npy.bad_header" | "npy.unsupported_dtype"
  | "npy.pickled" | "npy.size_mismatch" | "npy.bad_array";

export class NpyError extends Error {
  override name = "NpyError";
  constructor(readonly code: NpyErrorCode, readonly source: string, message: string) {
    super(`${source}: ${message}`);
  }
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // "\x93NUMPY"
/** Real headers are a few hundred bytes; a larger one is a hostile or broken file. */
const MAX_HEADER_BYTES = 1 << 20;
const MAX_NESTING = 16;

// ---------------------------------------------------------------------------------------
// Header literal: a tokenizer + recursive-descent parser for the Python literals numpy writes.

type PyValue = string | number | boolean | null | PyValue[] | Map<string, PyValue>;

class LiteralParser {
  private pos = 0;
  constructor(private readonly text: string, private readonly source: string) {}

  parseAll(): PyValue {
    const value = this.value(0);
    this.skipSpace();
    if (this.pos !== this.text.length) this.fail(`unexpected ${JSON.stringify(this.text.slice(this.pos, this.pos + 10))}`);
    return value;
  }

  private fail(what: string): never {
    throw new NpyError("npy.bad_header", this.source, `header is not a valid dict literal: ${what} at offset ${this.pos}`);
  }

  private skipSpace(): void {
    while (this.pos < this.text.length && /\s/.test(this.text[this.pos])) this.pos++;
  }

  private peek(): string {
    this.skipSpace();
    return this.text[this.pos] ?? "";
  }

  private expect(ch: string): void {
    if (this.peek() !== ch) this.fail(`expected '${ch}'`);
    this.pos++;
  }

  private value(depth: number): PyValue {
    if (depth > MAX_NESTING) this.fail("nesting too deep");
    const ch = this.peek();
    if (ch === "{") return this.dict(depth);
    if (ch === "(") return this.sequence(")", depth);
    if (ch === "[") return this.sequence("]", depth);
    if (ch === "'" || ch === '"') return this.string();
    if (ch === "-" || (ch >= "0" && ch <= "9")) return this.integer();
    const word = /^[A-Za-z_]+/.exec(this.text.slice(this.pos))?.[0];
    if (word === "True" || word === "False" || word === "None") {
      this.pos += word.length;
      return word === "None" ? null : word === "True";
    }
    return this.fail(ch === "" ? "unexpected end" : `unexpected ${JSON.stringify(ch)}`);
  }

  private dict(depth: number): Map<string, PyValue> {
    this.expect("{");
    const out = new Map<string, PyValue>();
    while (this.peek() !== "}") {
      const key = this.value(depth + 1);
      if (typeof key !== "string") this.fail("dict key is not a string");
      this.expect(":");
      out.set(key, this.value(depth + 1));
      if (this.peek() === ",") this.pos++;
      else if (this.peek() !== "}") this.fail("expected ',' or '}'");
    }
    this.pos++;
    return out;
  }

  private sequence(close: string, depth: number): PyValue[] {
    this.pos++; // the opening bracket, already peeked
    const out: PyValue[] = [];
    while (this.peek() !== close) {
      out.push(this.value(depth + 1));
      if (this.peek() === ",") this.pos++;
      else if (this.peek() !== close) this.fail(`expected ',' or '${close}'`);
    }
    this.pos++;
    return out;
  }

  private string(): string {
    const quote = this.text[this.pos++];
    let out = "";
    while (this.pos < this.text.length && this.text[this.pos] !== quote) {
      if (this.text[this.pos] === "\\") this.pos++; // keep the escaped character literally
      out += this.text[this.pos++] ?? "";
    }
    if (this.pos >= this.text.length) this.fail("unterminated string");
    this.pos++;
    return out;
  }

  private integer(): number {
    const match = /^-?\d+L?/.exec(this.text.slice(this.pos)); // "L": Python 2 longs in old files
    if (!match) this.fail("bad number");
    this.pos += match[0].length;
    const n = Number(match[0].replace("L", ""));
    if (!Number.isSafeInteger(n)) this.fail(`integer ${match[0]} is out of range`);
    return n;
  }
}

// ---------------------------------------------------------------------------------------
// descr <-> DType

interface Descr { dtype: DType; bigEndian: boolean }

const KIND_SIZE_TO_DTYPE: Record<string, DType> = {
  f2: "float16", f4: "float32", f8: "float64",
  i1: "int8", i2: "int16", i4: "int32", i8: "int64",
  u1: "uint8", u2: "uint16", u4: "uint32", b1: "bool",
};

function parseDescr(descr: PyValue, source: string): Descr {
  if (typeof descr !== "string") {
    throw new NpyError("npy.unsupported_dtype", source, "structured dtypes (a list descr) are not supported; save plain numeric arrays");
  }
  if (/^[|<>=]?O/.test(descr)) {
    throw new NpyError("npy.pickled", source, "pickled object arrays are not supported; save with allow_pickle=False");
  }
  const match = /^([<>|=])([a-zA-Z])(\d+)$/.exec(descr);
  const dtype = match ? KIND_SIZE_TO_DTYPE[match[2] + match[3]] : undefined;
  if (!match || !dtype) {
    const hint = descr.endsWith("u8") ? " (uint64 has no lossless JavaScript array here; cast to int64 or float64)" : "";
    throw new NpyError("npy.unsupported_dtype", source,
      `dtype '${descr}' is not supported${hint}; expected one of ${Object.keys(KIND_SIZE_TO_DTYPE).join(", ")} with byte order <, > or |`);
  }
  return { dtype, bigEndian: match[1] === ">" };
}

const DTYPE_TO_DESCR: Record<DType, string> = {
  float16: "<f2", float32: "<f4", float64: "<f8", int8: "|i1", int16: "<i2", int32: "<i4",
  int64: "<i8", uint8: "|u1", uint16: "<u2", uint32: "<u4", bool: "|b1",
};

// ---------------------------------------------------------------------------------------
// Byte-level layout fixes, done before the bytes are viewed as a typed array.

function byteSwapped(bytes: Uint8Array, size: number): Uint8Array {
  const out = new Uint8Array(bytes.length);
  for (let i = 0; i < bytes.length; i += size) {
    for (let b = 0; b < size; b++) out[i + b] = bytes[i + size - 1 - b];
  }
  return out;
}

/** Reorders Fortran-order (first index fastest) elements into C order (last index fastest). */
function fortranToC(bytes: Uint8Array, shape: number[], size: number): Uint8Array {
  const out = new Uint8Array(bytes.length);
  const n = shape.length;
  const stride: number[] = []; // Fortran strides, in elements
  for (let k = 0, s = 1; k < n; s *= shape[k], k++) stride.push(s);
  const index = new Array<number>(n).fill(0);
  const count = bytes.length / size;
  let src = 0;
  for (let dst = 0; dst < count; dst++) {
    out.set(bytes.subarray(src * size, src * size + size), dst * size);
    // Odometer over C order: bump the last axis, carrying into earlier ones.
    for (let k = n - 1; k >= 0; k--) {
      if (++index[k] < shape[k]) { src += stride[k]; break; }
      src -= (shape[k] - 1) * stride[k];
      index[k] = 0;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------

interface Header { descr: Descr; fortranOrder: boolean; shape: number[]; dataOffset: number }

function readHeader(bytes: Uint8Array, source: string): Header {
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) {
    throw new NpyError("npy.bad_magic", source, "not a .npy file (missing the \\x93NUMPY magic)");
  }
  const major = bytes[6];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let headerLength: number;
  let start: number;
  if (major === 1) {
    headerLength = view.getUint16(8, true);
    start = 10;
  } else if (major === 2 || major === 3) {
    if (bytes.length < 12) throw new NpyError("npy.bad_header", source, "file ends inside the header length");
    headerLength = view.getUint32(8, true);
    start = 12;
  } else {
    throw new NpyError("npy.bad_version", source, `format version ${major}.${bytes[7]} is not supported; expected 1.0, 2.0 or 3.0`);
  }
  if (headerLength > MAX_HEADER_BYTES || start + headerLength > bytes.length) {
    throw new NpyError("npy.bad_header", source,
      `header claims ${headerLength} bytes but the file has ${bytes.length - start} after the preamble`);
  }
  // Versions 1 and 2 are latin-1 by definition; 3.0 exists only to allow UTF-8.
  const text = new TextDecoder(major === 3 ? "utf-8" : "latin1").decode(bytes.subarray(start, start + headerLength));
  const dict = new LiteralParser(text, source).parseAll();
  if (!(dict instanceof Map)) throw new NpyError("npy.bad_header", source, "header is not a dict");
  for (const key of ["descr", "fortran_order", "shape"]) {
    if (!dict.has(key)) throw new NpyError("npy.bad_header", source, `header has no '${key}' key (found ${[...dict.keys()].join(", ")})`);
  }
  const fortranOrder = dict.get("fortran_order");
  if (typeof fortranOrder !== "boolean") throw new NpyError("npy.bad_header", source, "header 'fortran_order' is not True or False");
  const shape = dict.get("shape");
  if (!Array.isArray(shape) || !shape.every((d): d is number => typeof d === "number" && d >= 0)) {
    throw new NpyError("npy.bad_header", source, `header 'shape' is not a tuple of non-negative integers`);
  }
  return { descr: parseDescr(dict.get("descr") ?? null, source), fortranOrder, shape, dataOffset: start + headerLength };
}

/**
 * Reads a `.npy` file. `source` (a path, or "archive.npz:key.npy") names the file in errors.
 * Little-endian C-order data is viewed in place when aligned, so `data` may share memory with
 * `bytes`; swapped or transposed data is a fresh copy.
 */
export function readNpy(bytes: Uint8Array, source = "<npy>"): NpyArray {
  const { descr, fortranOrder, shape, dataOffset } = readHeader(bytes, source);
  const size = bytesPerElement(descr.dtype);
  let count: number;
  try {
    count = elementCount(shape);
  } catch {
    throw new NpyError("npy.size_mismatch", source, `shape (${shape.join(", ")}) has too many elements`);
  }
  const expected = count * size;
  const available = bytes.length - dataOffset;
  // Checked before any allocation: the header alone must not make us reserve memory.
  if (!Number.isSafeInteger(expected) || expected !== available) {
    throw new NpyError("npy.size_mismatch", source,
      `shape (${shape.join(", ")}) of ${descr.dtype} needs ${expected} data bytes but the file has ${available}` +
      (available < expected ? " (truncated?)" : ""));
  }
  let data = bytes.subarray(dataOffset);
  if (descr.bigEndian && size > 1) data = byteSwapped(data, size);
  if (fortranOrder && shape.length > 1) data = fortranToC(data, shape, size);
  return { dtype: descr.dtype, shape: [...shape], data: viewAs(descr.dtype, data) };
}

/** Writes a version 1.0 `.npy` (2.0 if the header outgrows 64 KiB), little-endian, C order. */
export function writeNpy(array: NpyArray): Uint8Array {
  const count = elementCount(array.shape);
  if (array.data.length !== count) {
    throw new NpyError("npy.bad_array", "<writeNpy>",
      `${array.data.length} values for shape (${array.shape.join(", ")}), which holds ${count}`);
  }
  const shapeText = array.shape.length === 1 ? `(${array.shape[0]},)` : `(${array.shape.join(", ")})`;
  const dict = `{'descr': '${DTYPE_TO_DESCR[array.dtype]}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  // The data must start on a 64-byte boundary: pad the header with spaces and end it with \n.
  const version = dict.length + 1 + 10 > 0xffff ? 2 : 1;
  const preamble = version === 1 ? 10 : 12;
  const headerLength = Math.ceil((preamble + dict.length + 1) / 64) * 64 - preamble;
  const header = dict.padEnd(headerLength - 1, " ") + "\n";
  const data = new Uint8Array(array.data.buffer, array.data.byteOffset, array.data.byteLength);
  const out = new Uint8Array(preamble + headerLength + data.length);
  out.set(MAGIC, 0);
  out[6] = version;
  const view = new DataView(out.buffer);
  if (version === 1) view.setUint16(8, headerLength, true);
  else view.setUint32(8, headerLength, true);
  for (let i = 0; i < header.length; i++) out[preamble + i] = header.charCodeAt(i);
  out.set(data, preamble + headerLength); // typed arrays are little-endian on every platform Node runs on
  return out;
}
