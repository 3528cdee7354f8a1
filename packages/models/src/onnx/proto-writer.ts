/**
 * Writes the subset of onnx.proto that `saveOnnx` emits, with a tiny protobuf wire encoder
 * (the counterpart of proto.ts's reader; no generated code). Field numbers are onnx/onnx.proto's.
 * Weights go into `raw_data` (little-endian), the compact form every ONNX runtime reads.
 */

export const ONNX_FLOAT = 1, ONNX_INT64 = 7;

/** One ONNX tensor to store: float32 weights or int64 shapes/pads. */
export interface TensorOut { name: string; dims: number[]; floats?: Float32Array; int64s?: number[] }
export type AttrValue = number | string | number[] | { floats: number[] } | { float: number };
export interface NodeOut { opType: string; inputs: string[]; outputs: string[]; name: string; attrs?: Record<string, AttrValue> }
/** A graph input/output: dims are numbers, or strings for symbolic (batch) sizes. */
export interface ValueOut { name: string; dims: (number | string)[] }
export interface GraphOut { name: string; nodes: NodeOut[]; initializers: TensorOut[]; inputs: ValueOut[]; outputs: ValueOut[] }

class Writer {
  // Large payloads (raw weights, nested messages) are kept as chunks, not copied byte by byte.
  private readonly chunks: Uint8Array[] = [];
  private parts: number[] = [];
  private flush(): void { if (this.parts.length) { this.chunks.push(Uint8Array.from(this.parts)); this.parts = []; } }
  private varintRaw(v: number | bigint): void {
    // int64 fields are two's complement in 10 bytes when negative (Reshape -1, axis -1).
    let x = BigInt.asUintN(64, BigInt(v));
    while (x >= 0x80n) { this.parts.push(Number(x & 0x7fn) | 0x80); x >>= 7n; }
    this.parts.push(Number(x));
  }
  private key(field: number, wire: number): void { this.varintRaw(field * 8 + wire); }
  int(field: number, v: number): this { this.key(field, 0); this.varintRaw(v); return this; }
  bytes(field: number, b: Uint8Array): this { this.key(field, 2); this.varintRaw(b.length); this.flush(); this.chunks.push(b); return this; }
  string(field: number, s: string): this { return this.bytes(field, new TextEncoder().encode(s)); }
  message(field: number, fill: (w: Writer) => void): this { const w = new Writer(); fill(w); return this.bytes(field, w.finish()); }
  float(field: number, v: number): this {
    this.key(field, 5);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    this.parts.push(...b);
    return this;
  }
  packedInts(field: number, vs: number[]): this { const w = new Writer(); vs.forEach((v) => w.varintRaw(v)); return this.bytes(field, w.finish()); }
  packedFloats(field: number, vs: number[]): this {
    const b = new Uint8Array(vs.length * 4);
    const dv = new DataView(b.buffer);
    vs.forEach((v, i) => dv.setFloat32(i * 4, v, true));
    return this.bytes(field, b);
  }
  finish(): Uint8Array {
    this.flush();
    const out = new Uint8Array(this.chunks.reduce((a, c) => a + c.length, 0));
    let at = 0;
    for (const c of this.chunks) { out.set(c, at); at += c.length; }
    return out;
  }
}

function tensor(w: Writer, t: TensorOut): void {
  w.packedInts(1, t.dims);
  w.int(2, t.floats ? ONNX_FLOAT : ONNX_INT64);
  w.string(8, t.name);
  if (t.floats) {
    // raw_data is little-endian; so are the x86-64 and arm64 hosts Node runs on, so the bytes go as they are.
    w.bytes(9, new Uint8Array(t.floats.buffer, t.floats.byteOffset, t.floats.byteLength));
  } else {
    const b = new Uint8Array((t.int64s ?? []).length * 8);
    const dv = new DataView(b.buffer);
    (t.int64s ?? []).forEach((v, i) => dv.setBigInt64(i * 8, BigInt(v), true));
    w.bytes(9, b);
  }
}

// AttributeProto.type values: FLOAT 1, INT 2, STRING 3, FLOATS 6, INTS 7.
function attribute(w: Writer, name: string, v: AttrValue): void {
  w.string(1, name);
  if (typeof v === "number") w.int(3, v).int(20, 2);
  else if (typeof v === "string") w.string(4, v).int(20, 3);
  else if (Array.isArray(v)) w.packedInts(8, v).int(20, 7);
  else if ("floats" in v) w.packedFloats(7, v.floats).int(20, 6);
  else w.float(2, v.float).int(20, 1);
}

function valueInfo(w: Writer, v: ValueOut): void {
  w.string(1, v.name);
  // TypeProto.tensor_type(1) { elem_type(1), shape(2) { dim(1) { dim_value(1) | dim_param(2) } } }
  w.message(2, (type) => type.message(1, (tt) => {
    tt.int(1, ONNX_FLOAT);
    tt.message(2, (shape) => v.dims.forEach((d) => shape.message(1, (dim) => (typeof d === "number" ? dim.int(1, d) : dim.string(2, d)))));
  }));
}

/** The serialized ModelProto (IR version 7, the one that goes with opset 13). */
export function encodeOnnxModel(graph: GraphOut, opset: number, producer: { name: string; version: string }): Uint8Array {
  const w = new Writer();
  w.int(1, 7);
  w.string(2, producer.name).string(3, producer.version);
  w.message(7, (g) => {
    for (const n of graph.nodes) {
      g.message(1, (nw) => {
        n.inputs.forEach((i) => nw.string(1, i));
        n.outputs.forEach((o) => nw.string(2, o));
        nw.string(3, n.name).string(4, n.opType);
        for (const [k, v] of Object.entries(n.attrs ?? {})) nw.message(5, (a) => attribute(a, k, v));
      });
    }
    g.string(2, graph.name);
    for (const t of graph.initializers) g.message(5, (tw) => tensor(tw, t));
    for (const v of graph.inputs) g.message(11, (vw) => valueInfo(vw, v));
    for (const v of graph.outputs) g.message(12, (vw) => valueInfo(vw, v));
  });
  w.message(8, (o) => o.string(1, "").int(2, opset));
  return w.finish();
}
