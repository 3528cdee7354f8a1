/**
 * Writes the subset of onnx.proto that `saveOnnx` emits, with the shared protobuf wire encoder
 * (../protobuf-writer.ts). Field numbers are onnx/onnx.proto's.
 * Weights go into `raw_data` (little-endian), the compact form every ONNX runtime reads.
 */
import { ProtoWriter as Writer } from "../protobuf-writer.js";

export const ONNX_FLOAT = 1, ONNX_INT64 = 7;

/** One ONNX tensor to store: float32 weights or int64 shapes/pads. */
export interface TensorOut { name: string; dims: number[]; floats?: Float32Array; int64s?: number[] }
export type AttrValue = number | string | number[] | { floats: number[] } | { float: number };
export interface NodeOut { opType: string; inputs: string[]; outputs: string[]; name: string; attrs?: Record<string, AttrValue> }
/** A graph input/output: dims are numbers, or strings for symbolic (batch) sizes. */
export interface ValueOut { name: string; dims: (number | string)[] }
export interface GraphOut { name: string; nodes: NodeOut[]; initializers: TensorOut[]; inputs: ValueOut[]; outputs: ValueOut[] }

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
