/**
 * Encodes a training graph as `saved_model.pb`, the one file TF_LoadSessionFromSavedModel needs
 * for a graph without variables: the few messages involved, written with the shared wire encoder
 * (../protobuf-writer.ts; field numbers from tensorflow/core/protobuf/{saved_model,meta_graph}.proto
 * and framework/{graph,node_def,attr_value,tensor,tensor_shape,versions}.proto), so the models
 * package needs no schema compiler: SavedModel {schema_version=1, meta_graphs=2} ->
 * MetaGraphDef {meta_info_def=1 {tags=4}, graph_def=2} -> GraphDef {node=1, versions=4} ->
 * NodeDef {name=1, op=2, input=3, attr=5 map<string, AttrValue>}.
 */
import { ProtoWriter } from "../protobuf-writer.js";

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

/** TensorShapeProto {dim=2 {size=1}}; null is an unknown dimension (-1). */
function shapeProto(w: ProtoWriter, dims: Array<number | null>): void {
  for (const d of dims) w.message(2, (dim) => dim.int(1, d ?? -1));
}

function tensorProto(w: ProtoWriter, t: { dtype: number; shape: number[]; int32?: number[]; float?: number[] }): void {
  w.int(1, t.dtype).message(2, (shape) => shapeProto(shape, t.shape));
  if (t.float) w.packedFloats(5, t.float);
  if (t.int32) w.packedInts(7, t.int32);
}

function attrValue(w: ProtoWriter, a: Attr): void {
  if ("s" in a) w.string(2, a.s);
  else if ("i" in a) w.int(3, a.i);
  else if ("f" in a) w.float(4, a.f);
  else if ("b" in a) w.int(5, a.b ? 1 : 0);
  else if ("type" in a) w.int(6, a.type);
  else if ("list" in a) w.message(1, (list) => { if (a.list.length) list.packedInts(3, a.list); });
  else if ("shape" in a) w.message(7, (shape) => shapeProto(shape, a.shape));
  else w.message(8, (tensor) => tensorProto(tensor, a.tensor));
}

function nodeDef(w: ProtoWriter, node: GraphNode): void {
  w.string(1, node.name).string(2, node.op);
  for (const input of node.inputs) w.string(3, input);
  for (const [name, value] of Object.entries(node.attrs)) w.message(5, (entry) => entry.string(1, name).message(2, (v) => attrValue(v, value)));
}

/** `saved_model.pb` bytes: one MetaGraphDef tagged `tag` holding the nodes. */
export function encodeSavedModel(nodes: GraphNode[], tag = "serve"): Uint8Array {
  return new ProtoWriter()
    .int(1, 1)
    .message(2, (meta) => meta
      .message(1, (info) => info.string(4, tag))
      .message(2, (graph) => {
        for (const node of nodes) graph.message(1, (n) => nodeDef(n, node));
        graph.message(4, (versions) => versions.int(1, GRAPH_DEF_PRODUCER));
      }))
    .finish();
}
