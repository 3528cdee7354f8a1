/**
 * The subset of onnx.proto that importing and exporting layer models needs, read and written
 * with a tiny protobuf wire codec (no code generation, no schema files at run time).
 * Field numbers are from onnx/onnx.proto (IR version 3..9).
 */

export interface OnnxTensor { name: string; dims: number[]; dataType: number; floats?: Float32Array; ints?: number[] }
export interface OnnxAttribute { name: string; f?: number; i?: number; s?: string; t?: OnnxTensor; floats?: number[]; ints?: number[] }
export interface OnnxNode { inputs: string[]; outputs: string[]; name: string; opType: string; attributes: Map<string, OnnxAttribute> }
export interface OnnxValueInfo { name: string; dims: (number | null)[] }
export interface OnnxGraph { nodes: OnnxNode[]; initializers: Map<string, OnnxTensor>; inputs: OnnxValueInfo[]; outputs: OnnxValueInfo[] }
export interface OnnxModel { irVersion: number; opset: number; producer: string; graph: OnnxGraph }

export const DT_FLOAT = 1, DT_INT32 = 6, DT_INT64 = 7, DT_DOUBLE = 11;

class Reader {
  pos = 0;
  constructor(readonly b: Uint8Array, readonly source: string) {}
  fail(m: string): never { throw new Error(`${this.source}: corrupt ONNX protobuf: ${m} (at byte ${this.pos})`); }
  varint(): number {
    let v = 0n;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.b.length) this.fail("truncated varint");
      const byte = this.b[this.pos++]!;
      v |= BigInt(byte & 0x7f) << BigInt(7 * i);
      // int64 is two's complement in 10 bytes: -1 (Reshape, axis attributes) must stay -1.
      if (byte < 0x80) return Number(BigInt.asIntN(64, v));
    }
    return this.fail("varint too long");
  }
  bytes(): Uint8Array {
    const n = this.varint();
    if (n < 0 || this.pos + n > this.b.length) this.fail("truncated field");
    const out = this.b.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
  /** Calls `on(field, wireType)` for each field; `on` must consume the value or return false to skip it. */
  fields(on: (field: number, wire: number) => boolean): void {
    while (this.pos < this.b.length) {
      const key = this.varint();
      const field = Math.floor(key / 8), wire = key & 7;
      if (on(field, wire)) continue;
      if (wire === 0) this.varint();
      else if (wire === 1) this.pos += 8;
      else if (wire === 2) this.bytes();
      else if (wire === 5) this.pos += 4;
      else this.fail(`wire type ${wire}`);
    }
  }
  sub(): Reader { return new Reader(this.bytes(), this.source); }
  float(): number { const v = new DataView(this.b.buffer, this.b.byteOffset + this.pos, 4).getFloat32(0, true); this.pos += 4; return v; }
  /** A repeated scalar field, packed (wire 2) or not. */
  repeated(wire: number, one: (r: Reader) => number, into: number[]): void {
    if (wire !== 2) { into.push(one(this)); return; }
    const r = this.sub();
    while (r.pos < r.b.length) into.push(one(r));
  }
}

const utf8 = new TextDecoder();
const str = (r: Reader) => utf8.decode(r.bytes());

function readTensor(r: Reader): OnnxTensor {
  const t: OnnxTensor = { name: "", dims: [], dataType: 0 };
  const floats: number[] = [], ints: number[] = [], doubles: number[] = [];
  let raw: Uint8Array | undefined;
  r.fields((f, w) => {
    if (f === 1) r.repeated(w, (x) => x.varint(), t.dims);
    else if (f === 2) t.dataType = r.varint();
    else if (f === 4) r.repeated(w, (x) => x.float(), floats);
    else if (f === 5 || f === 7) r.repeated(w, (x) => x.varint(), ints);
    else if (f === 8) t.name = str(r);
    else if (f === 9) raw = r.bytes();
    else if (f === 10) r.repeated(w, (x) => { const v = new DataView(x.b.buffer, x.b.byteOffset + x.pos, 8).getFloat64(0, true); x.pos += 8; return v; }, doubles);
    else if (f === 14) r.fail("external data is not supported");
    else return false;
    return true;
  });
  const count = t.dims.reduce((a, b) => a * b, 1);
  if (raw) {
    const v = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    const size = t.dataType === DT_FLOAT || t.dataType === DT_INT32 ? 4 : 8;
    if (raw.length !== count * size) r.fail(`tensor ${t.name}: ${raw.length} raw bytes for ${count} elements`);
    if (t.dataType === DT_FLOAT) t.floats = Float32Array.from({ length: count }, (_, i) => v.getFloat32(i * 4, true));
    else if (t.dataType === DT_DOUBLE) t.floats = Float32Array.from({ length: count }, (_, i) => v.getFloat64(i * 8, true));
    else if (t.dataType === DT_INT64) t.ints = Array.from({ length: count }, (_, i) => Number(v.getBigInt64(i * 8, true)));
    else if (t.dataType === DT_INT32) t.ints = Array.from({ length: count }, (_, i) => v.getInt32(i * 4, true));
  } else if (floats.length || doubles.length) t.floats = Float32Array.from(floats.length ? floats : doubles);
  else if (ints.length) t.ints = ints;
  return t;
}

function readAttribute(r: Reader): OnnxAttribute {
  const a: OnnxAttribute = { name: "" };
  const floats: number[] = [], ints: number[] = [];
  r.fields((f, w) => {
    if (f === 1) a.name = str(r);
    else if (f === 2) a.f = r.float();
    else if (f === 3) a.i = r.varint();
    else if (f === 4) a.s = str(r);
    else if (f === 5) a.t = readTensor(r.sub());
    else if (f === 7) r.repeated(w, (x) => x.float(), floats);
    else if (f === 8) r.repeated(w, (x) => x.varint(), ints);
    else return false;
    return true;
  });
  if (floats.length) a.floats = floats;
  if (ints.length) a.ints = ints;
  return a;
}

function readValueInfo(r: Reader): OnnxValueInfo {
  const v: OnnxValueInfo = { name: "", dims: [] };
  // Only the shape matters: TypeProto.tensor_type(1) -> shape(2) -> dim(1) -> dim_value(1).
  const nested = (parent: Reader, field: number, each: (child: Reader) => void) =>
    parent.fields((f) => { if (f !== field) return false; each(parent.sub()); return true; });
  r.fields((f) => {
    if (f === 1) v.name = str(r);
    else if (f === 2) nested(r.sub() as Reader, 1, (tt) => nested(tt, 2, (shape) => nested(shape, 1, (dim) => {
      let value: number | null = null;
      dim.fields((k) => { if (k !== 1) return false; value = dim.varint(); return true; });
      v.dims.push(value);
    })));
    else return false;
    return true;
  });
  return v;
}

function readNode(r: Reader): OnnxNode {
  const n: OnnxNode = { inputs: [], outputs: [], name: "", opType: "", attributes: new Map() };
  r.fields((f) => {
    if (f === 1) n.inputs.push(str(r));
    else if (f === 2) n.outputs.push(str(r));
    else if (f === 3) n.name = str(r);
    else if (f === 4) n.opType = str(r);
    else if (f === 5) { const a = readAttribute(r.sub()); n.attributes.set(a.name, a); }
    else return false;
    return true;
  });
  return n;
}

function readGraph(r: Reader): OnnxGraph {
  const g: OnnxGraph = { nodes: [], initializers: new Map(), inputs: [], outputs: [] };
  r.fields((f) => {
    if (f === 1) g.nodes.push(readNode(r.sub()));
    else if (f === 5) { const t = readTensor(r.sub()); g.initializers.set(t.name, t); }
    else if (f === 11) g.inputs.push(readValueInfo(r.sub()));
    else if (f === 12) g.outputs.push(readValueInfo(r.sub()));
    else return false;
    return true;
  });
  return g;
}

export function readOnnxModel(bytes: Uint8Array, source: string): OnnxModel {
  const r = new Reader(bytes, source);
  const m: OnnxModel = { irVersion: 0, opset: 0, producer: "", graph: undefined as unknown as OnnxGraph };
  r.fields((f) => {
    if (f === 1) m.irVersion = r.varint();
    else if (f === 2) m.producer = str(r);
    else if (f === 7) m.graph = readGraph(r.sub());
    else if (f === 8) {
      let domain = "", version = 0;
      const s = r.sub();
      s.fields((k) => { if (k === 1) domain = str(s); else if (k === 2) version = s.varint(); else return false; return true; });
      if (domain === "" || domain === "ai.onnx") m.opset = version;
    } else return false;
    return true;
  });
  if (!m.graph || m.irVersion === 0) throw new Error(`${source}: not an ONNX model (no graph or IR version)`);
  return m;
}
