/**
 * The parts of `saved_model.pb` that interpreting a SavedModel's graph needs, decoded without
 * schemas (field numbers from tensorflow/core/protobuf/{saved_model,meta_graph,saved_object_graph}.proto
 * and framework/{graph,function,node_def,attr_value,tensor,op_def}.proto):
 * SavedModel {meta_graphs=2} -> MetaGraphDef {graph_def=2, signature_def=5, object_graph_def=7};
 * GraphDef {node=1, library=2 {function=1}}; FunctionDef {signature=1 OpDef, node_def=3, ret=4};
 * SavedObjectGraph {nodes=1, concrete_functions=2}. Attributes come out in the JSON form of
 * tfjs-converter's GraphDef (strings base64, dtypes as enum numbers), which is what its op
 * mappers read. Nothing here is executed; it is only data.
 */
import { all, first, floats, mapEntries, protoFields, type ProtoField, text, varints } from "./proto.js";

export interface ShapeJson { dim?: Array<{ size: number }>; unknownRank?: boolean }
export interface AttrJson {
  s?: string; i?: number; f?: number; b?: boolean; type?: number; shape?: ShapeJson; func?: { name: string };
  list?: { s?: string[]; i?: number[]; f?: number[]; b?: boolean[]; type?: number[]; shape?: ShapeJson[] };
  /** Tensor-valued attributes (Const's `value`), decoded by tensorOf only where used (saver functions hold string constants). */
  tensorBytes?: Uint8Array;
}
export interface TensorValue { dtype: number; shape: number[]; values: Float32Array | Int32Array | Uint8Array }
export interface NodeDef { name: string; op: string; inputs: string[]; attr: Record<string, AttrJson> }
export interface ArgDef { name: string; type: number; typeAttr: string; numberAttr: string; typeListAttr: string }
export interface FunctionDef { name: string; inputs: ArgDef[]; outputs: ArgDef[]; nodes: NodeDef[]; ret: Map<string, string> }
export interface TensorInfo { name: string; dtype: number; shape?: number[] }
export interface Signature { inputs: Map<string, TensorInfo>; outputs: Map<string, TensorInfo> }
export interface SavedVariable { dtype: number; shape: number[]; trainable: boolean; name: string }
export interface SavedObject {
  children: Array<{ nodeId: number; localName: string }>;
  kind: "user_object" | "function" | "variable" | "bare_concrete_function" | "constant" | "resource" | "other";
  variable?: SavedVariable;
  /** SavedUserObject: identifier and (TF 2.1-2.4 Keras) metadata JSON. */
  identifier?: string;
  metadata?: string;
  /** SavedFunction.concrete_functions / SavedBareConcreteFunction.concrete_function_name. */
  functions?: string[];
}
export interface MetaGraph {
  tags: string[];
  nodes: NodeDef[];
  functions: Map<string, FunctionDef>;
  signatures: Map<string, Signature>;
  objects: SavedObject[];
  /** Concrete function name -> object graph ids of its captured inputs (bound_inputs). */
  boundInputs: Map<string, number[]>;
}

export const DT = { FLOAT: 1, DOUBLE: 2, INT32: 3, UINT8: 4, INT8: 6, STRING: 7, INT64: 9, BOOL: 10, HALF: 19, RESOURCE: 20 } as const;

/** Largest constant a graph may embed (2^26 elements, 256 MiB as float32); weights live in variables, not constants. */
export const MAX_CONSTANT_ELEMENTS = 2 ** 26;

const b64 = (b: Uint8Array): string => Buffer.from(b).toString("base64");

export function shapeOf(bytes: Uint8Array | undefined): ShapeJson {
  if (!bytes) return { dim: [] };
  const f = protoFields(bytes);
  if (first(f, 3)?.int) return { unknownRank: true };
  return { dim: all(f, 2).map((d) => ({ size: first(protoFields(d.bytes), 1)?.int ?? 0 })) };
}

export const dims = (s: ShapeJson): number[] => (s.dim ?? []).map((d) => d.size);

/** TensorProto {dtype=1, tensor_shape=2, tensor_content=4, float_val=5, double_val=6, int_val=7, int64_val=10, bool_val=11}. */
export function tensorOf(bytes: Uint8Array, where: string): TensorValue {
  const f = protoFields(bytes);
  const dtype = first(f, 1)?.int ?? 0;
  const shape = dims(shapeOf(first(f, 2)?.bytes));
  const count = shape.reduce((a, b) => a * b, 1);
  // Sizes from the file are checked before anything is allocated for them.
  if (!(count >= 0 && count <= MAX_CONSTANT_ELEMENTS)) throw new Error(`${where}: constant of shape [${shape}] is larger than ${MAX_CONSTANT_ELEMENTS} elements`);
  const content = first(f, 4)?.bytes;
  const fill = <T extends Float32Array | Int32Array | Uint8Array>(out: T, vals: number[]): T => {
    // Protos may store one value for a constant tensor: TensorFlow repeats the last one.
    if (vals.length > count) throw new Error(`${where}: constant holds ${vals.length} values for shape [${shape}]`);
    for (let i = 0; i < count; i++) out[i] = vals.length ? vals[Math.min(i, vals.length - 1)]! : 0;
    return out;
  };
  if (dtype === DT.FLOAT || dtype === DT.DOUBLE || dtype === DT.HALF) {
    if (content) {
      if (dtype !== DT.FLOAT) throw new Error(`${where}: constant of dtype ${dtype} stored as raw bytes is not supported`);
      if (content.length !== count * 4) throw new Error(`${where}: ${content.length} bytes for a float32 constant of shape [${shape}]`);
      return { dtype, shape, values: new Float32Array(content.buffer.slice(content.byteOffset, content.byteOffset + content.length)) };
    }
    const vals = dtype === DT.DOUBLE
      ? all(f, 6).flatMap((d) => { const v = new DataView(d.bytes.buffer, d.bytes.byteOffset, d.bytes.length); return Array.from({ length: d.bytes.length / 8 }, (_, k) => v.getFloat64(8 * k, true)); })
      : floats(f, 5);
    return { dtype: DT.FLOAT, shape, values: fill(new Float32Array(count), vals) };
  }
  if (dtype === DT.INT32 || dtype === DT.INT64 || dtype === DT.INT8 || dtype === DT.UINT8) {
    if (content) {
      const step = dtype === DT.INT64 ? 8 : dtype === DT.INT32 ? 4 : 1;
      if (content.length !== count * step) throw new Error(`${where}: ${content.length} bytes for an integer constant of shape [${shape}]`);
      const v = new DataView(content.buffer, content.byteOffset, content.length);
      const vals = Array.from({ length: count }, (_, k) => (step === 8 ? Number(v.getBigInt64(8 * k, true)) : step === 4 ? v.getInt32(4 * k, true) : dtype === DT.INT8 ? v.getInt8(k) : v.getUint8(k)));
      return { dtype: DT.INT32, shape, values: fill(new Int32Array(count), vals) };
    }
    return { dtype: DT.INT32, shape, values: fill(new Int32Array(count), varints(f, dtype === DT.INT64 ? 10 : 7)) };
  }
  if (dtype === DT.BOOL) {
    return { dtype, shape, values: fill(new Uint8Array(count), content ? Array.from(content) : varints(f, 11)) };
  }
  throw new Error(`${where}: constants of dtype ${dtype} are not supported (float, integer and bool only)`);
}

function attrOf(bytes: Uint8Array): AttrJson {
  const f = protoFields(bytes);
  const out: AttrJson = {};
  for (const x of f) {
    if (x.field === 2) out.s = b64(x.bytes);
    else if (x.field === 3) out.i = x.int;
    else if (x.field === 4) out.f = new DataView(x.bytes.buffer, x.bytes.byteOffset, 4).getFloat32(0, true);
    else if (x.field === 5) out.b = x.int !== 0;
    else if (x.field === 6) out.type = x.int;
    else if (x.field === 7) out.shape = shapeOf(x.bytes);
    else if (x.field === 8) out.tensorBytes = x.bytes;
    else if (x.field === 10) out.func = { name: text(first(protoFields(x.bytes), 1)?.bytes) };
    else if (x.field === 1) {
      const l = protoFields(x.bytes);
      out.list = {
        s: all(l, 2).map((s) => b64(s.bytes)), i: varints(l, 3), f: floats(l, 4), b: varints(l, 5).map((v) => v !== 0),
        type: varints(l, 6), shape: all(l, 7).map((s) => shapeOf(s.bytes)),
      };
    }
  }
  return out;
}

/** NodeDef {name=1, op=2, input=3, attr=5}. */
function nodeOf(bytes: Uint8Array): NodeDef {
  const f = protoFields(bytes);
  const name = text(first(f, 1)?.bytes);
  const attr: Record<string, AttrJson> = {};
  for (const [k, v] of mapEntries(f, 5)) attr[k] = attrOf(v);
  return { name, op: text(first(f, 2)?.bytes), inputs: all(f, 3).map((i) => text(i.bytes)), attr };
}

/** OpDef.ArgDef {name=1, type=3, type_attr=4, number_attr=5, type_list_attr=6}. */
function argOf(bytes: Uint8Array): ArgDef {
  const f = protoFields(bytes);
  return { name: text(first(f, 1)?.bytes), type: first(f, 3)?.int ?? 0, typeAttr: text(first(f, 4)?.bytes), numberAttr: text(first(f, 5)?.bytes), typeListAttr: text(first(f, 6)?.bytes) };
}

function functionOf(bytes: Uint8Array): FunctionDef {
  const f = protoFields(bytes);
  const sig = protoFields(first(f, 1)?.bytes ?? new Uint8Array());
  const name = text(first(sig, 1)?.bytes);
  return {
    name,
    inputs: all(sig, 2).map((a) => argOf(a.bytes)),
    outputs: all(sig, 3).map((a) => argOf(a.bytes)),
    nodes: all(f, 3).map((n) => nodeOf(n.bytes)),
    ret: new Map(mapEntries(f, 4).map(([k, v]) => [k, text(v)])),
  };
}

/** TensorInfo {name=1, dtype=2, tensor_shape=3}. */
function tensorInfoOf(bytes: Uint8Array): TensorInfo {
  const f = protoFields(bytes);
  const shape = first(f, 3) ? shapeOf(first(f, 3)!.bytes) : undefined;
  return { name: text(first(f, 1)?.bytes), dtype: first(f, 2)?.int ?? 0, shape: shape && !shape.unknownRank ? dims(shape) : undefined };
}

/** SavedObject {children=1, user_object=4, function=6, variable=7, bare_concrete_function=8, constant=9, resource=10}. */
function objectOf(bytes: Uint8Array): SavedObject {
  const f = protoFields(bytes);
  const children = all(f, 1).map((c) => { const r = protoFields(c.bytes); return { nodeId: first(r, 1)?.int ?? 0, localName: text(first(r, 2)?.bytes) }; });
  const field = (n: number): ProtoField[] | undefined => { const x = first(f, n); return x ? protoFields(x.bytes) : undefined; };
  const user = field(4), fn = field(6), variable = field(7), bare = field(8);
  if (variable) {
    return {
      children, kind: "variable",
      variable: { dtype: first(variable, 1)?.int ?? 0, shape: dims(shapeOf(first(variable, 2)?.bytes)), trainable: (first(variable, 3)?.int ?? 0) !== 0, name: text(first(variable, 6)?.bytes) },
    };
  }
  if (user) return { children, kind: "user_object", identifier: text(first(user, 1)?.bytes), metadata: text(first(user, 3)?.bytes) };
  if (fn) return { children, kind: "function", functions: all(fn, 1).map((c) => text(c.bytes)) };
  if (bare) return { children, kind: "bare_concrete_function", functions: [text(first(bare, 1)?.bytes)] };
  return { children, kind: first(f, 9) ? "constant" : first(f, 10) ? "resource" : "other" };
}

/** The first MetaGraphDef (TF2 SavedModels hold one, tagged "serve"). */
export function readMetaGraph(savedModel: Uint8Array, where: string): MetaGraph {
  const meta = first(protoFields(savedModel), 2);
  if (!meta) throw new Error(`${where}: no MetaGraphDef (not a SavedModel)`);
  const m = protoFields(meta.bytes);
  const info = first(m, 1);
  const tags = info ? all(protoFields(info.bytes), 4).map((t) => text(t.bytes)) : [];
  const graph = protoFields(first(m, 2)?.bytes ?? new Uint8Array());
  const library = first(graph, 2);
  const functions = new Map<string, FunctionDef>();
  if (library) for (const fd of all(protoFields(library.bytes), 1)) { const fn = functionOf(fd.bytes); functions.set(fn.name, fn); }
  const signatures = new Map<string, Signature>();
  for (const [key, value] of mapEntries(m, 5)) {
    const s = protoFields(value);
    signatures.set(key, {
      inputs: new Map(mapEntries(s, 1).map(([k, v]) => [k, tensorInfoOf(v)])),
      outputs: new Map(mapEntries(s, 2).map(([k, v]) => [k, tensorInfoOf(v)])),
    });
  }
  const og = protoFields(first(m, 7)?.bytes ?? new Uint8Array());
  const boundInputs = new Map<string, number[]>();
  for (const [name, value] of mapEntries(og, 2)) boundInputs.set(name, varints(protoFields(value), 2));
  return {
    tags,
    nodes: all(graph, 1).map((n) => nodeOf(n.bytes)),
    functions,
    signatures,
    objects: all(og, 1).map((o) => objectOf(o.bytes)),
    boundInputs,
  };
}
