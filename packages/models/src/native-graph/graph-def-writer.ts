/**
 * Encodes a training graph as `saved_model.pb`, the one file TF_LoadSessionFromSavedModel needs
 * for a graph without variables. Hand-written protobuf encoding of the few messages involved
 * (field numbers from tensorflow/core/protobuf/{saved_model,meta_graph}.proto and
 * framework/{graph,node_def,attr_value,tensor,tensor_shape,versions}.proto), so the models
 * package needs no schema compiler: SavedModel {schema_version=1, meta_graphs=2} ->
 * MetaGraphDef {meta_info_def=1 {tags=4}, graph_def=2} -> GraphDef {node=1, versions=4} ->
 * NodeDef {name=1, op=2, input=3, attr=5 map<string, AttrValue>}.
 */
import { encodeVarint } from "../savedmodel/proto.js";

/** An attribute value: one of AttrValue's fields (list = repeated ints, the only list form the graphs use). */
export type Attr =
  | { s: string }
  | { i: number }
  | { f: number }
  | { b: boolean }
  | { type: number }
  | { list: number[] }
  | { shape: Array<number | null> }
  | { tensor: { dtype: number; shape: number[]; int32?: number[]; float?: number[] } };

export interface GraphNode {
  name: string;
  op: string;
  inputs: string[];
  attrs: Record<string, Attr>;
}

/**
 * The GraphDef producer version written: TensorFlow 2.21's (TF_GRAPH_DEF_VERSION 2474). Ops
 * interpret a few attributes by producer version; the graph is built with today's semantics.
 */
export const GRAPH_DEF_PRODUCER = 2474;

type Bytes = number[];

const key = (field: number, wire: number): Bytes => encodeVarint(field * 8 + wire);
const varintField = (field: number, n: number): Bytes => [...key(field, 0), ...encodeVarint(n)];
const bytesField = (field: number, body: Uint8Array | Bytes): Bytes => [...key(field, 2), ...encodeVarint(body.length), ...body];
const stringField = (field: number, s: string): Bytes => bytesField(field, [...Buffer.from(s, "utf8")]);

/** A signed int64 as a varint (negative values take ten bytes, two's complement). */
function int64(n: number): Bytes {
  if (n >= 0) return encodeVarint(n);
  const out: Bytes = [];
  let v = BigInt.asUintN(64, BigInt(n));
  while (v >= 0x80n) { out.push(Number(v & 0x7fn) | 0x80); v >>= 7n; }
  out.push(Number(v));
  return out;
}

function float32(values: number[]): Bytes {
  const buf = Buffer.alloc(values.length * 4);
  values.forEach((v, k) => buf.writeFloatLE(v, k * 4));
  return [...buf];
}

/** TensorShapeProto {dim=2 {size=1}}; null is an unknown dimension (-1). */
function shapeProto(dims: Array<number | null>): Bytes {
  return dims.flatMap((d) => bytesField(2, [...key(1, 0), ...int64(d ?? -1)]));
}

function tensorProto(t: { dtype: number; shape: number[]; int32?: number[]; float?: number[] }): Bytes {
  const out = [...varintField(1, t.dtype), ...bytesField(2, shapeProto(t.shape))];
  if (t.float) out.push(...bytesField(5, float32(t.float)));
  if (t.int32) out.push(...bytesField(7, t.int32.flatMap(int64)));
  return out;
}

function attrValue(a: Attr): Bytes {
  if ("s" in a) return stringField(2, a.s);
  if ("i" in a) return [...key(3, 0), ...int64(a.i)];
  if ("f" in a) return [...key(4, 5), ...float32([a.f])];
  if ("b" in a) return varintField(5, a.b ? 1 : 0);
  if ("type" in a) return varintField(6, a.type);
  if ("list" in a) return bytesField(1, a.list.length ? bytesField(3, a.list.flatMap(int64)) : []);
  if ("shape" in a) return bytesField(7, shapeProto(a.shape));
  return bytesField(8, tensorProto(a.tensor));
}

function nodeDef(node: GraphNode): Bytes {
  const out = [...stringField(1, node.name), ...stringField(2, node.op)];
  for (const input of node.inputs) out.push(...stringField(3, input));
  for (const [name, value] of Object.entries(node.attrs)) out.push(...bytesField(5, [...stringField(1, name), ...bytesField(2, attrValue(value))]));
  return out;
}

/** `saved_model.pb` bytes: one MetaGraphDef tagged `tag` holding the nodes. */
export function encodeSavedModel(nodes: GraphNode[], tag = "serve"): Uint8Array {
  const graph: Bytes = [];
  for (const node of nodes) graph.push(...bytesField(1, nodeDef(node)));
  graph.push(...bytesField(4, varintField(1, GRAPH_DEF_PRODUCER)));
  const meta = [...bytesField(1, stringField(4, tag)), ...bytesField(2, graph)];
  return Uint8Array.from([...varintField(1, 1), ...bytesField(2, meta)]);
}
