/**
 * A SavedModel signature's concrete function flattened into one graph that tfjs-converter's
 * executor can run: nested (Stateful)PartitionedCall nodes are inlined, captured variable
 * handles become Placeholders fed with the model's trainable TF.js variables (ReadVariableOp
 * of a handle is that Placeholder), constants are collected as the graph's weights. Every other
 * op must be in OP_ALLOW_LIST (pure tensor maths that the converter maps to TF.js ops); any
 * other op is an error naming it and its function. Nothing from the file runs as code.
 */
import { type AttrJson, DT, type FunctionDef, type MetaGraph, type NodeDef, type TensorValue, tensorOf } from "./graph-proto.js";

/** TensorFlow ops a SavedModel graph may use: tfjs-converter maps each to TF.js ops (with gradients for the float paths). */
export const OP_ALLOW_LIST: readonly string[] = [
  // arithmetic and activations
  "Add", "AddV2", "AddN", "BiasAdd", "Sub", "RealDiv", "Div", "DivNoNan", "FloorDiv", "Mul", "Maximum", "Minimum", "Pow",
  "SquaredDifference", "FloorMod", "Abs", "Ceil", "ClipByValue", "Elu", "Exp", "Floor", "Log", "Neg", "Prelu", "Relu", "Relu6",
  "Selu", "Sigmoid", "Sqrt", "Rsqrt", "Square", "Tanh", "Sign", "Round", "Expm1", "Log1p", "Reciprocal", "Softplus", "Erf",
  "LeakyRelu", "Sin", "Cos",
  // convolution, pooling, normalization, matrices
  "Conv1D", "Conv2D", "DepthwiseConv2d", "DepthwiseConv2dNative", "AvgPool", "MaxPool", "FusedBatchNorm", "FusedBatchNormV2",
  "FusedBatchNormV3", "LRN", "Softmax", "LogSoftmax", "MatMul", "BatchMatMul", "BatchMatMulV2", "Transpose", "Einsum",
  "ResizeBilinear", "ResizeNearestNeighbor",
  // reductions, comparisons
  "Max", "Mean", "Min", "Sum", "Prod", "All", "Any", "ArgMax", "ArgMin", "Cumsum", "Equal", "NotEqual", "Greater",
  "GreaterEqual", "Less", "LessEqual", "LogicalAnd", "LogicalNot", "LogicalOr", "Select", "SelectV2",
  // shapes, slicing, creation
  "Identity", "IdentityN", "Snapshot", "StopGradient", "Shape", "ShapeN", "Rank", "Size", "Reshape", "Squeeze", "ExpandDims",
  "EnsureShape", "Cast", "ConcatV2", "Concat", "Pack", "Unpack", "Slice", "StridedSlice", "GatherV2", "Gather", "GatherNd",
  "Tile", "Split", "SplitV", "Pad", "PadV2", "MirrorPad", "Reverse", "ReverseV2", "SpaceToBatchND", "BatchToSpaceND",
  "DepthToSpace", "BroadcastTo", "BroadcastArgs", "Fill", "Range", "OneHot", "ZerosLike", "OnesLike", "Zeros", "Ones",
  // handled here: constants, variable reads, calls, control-only nodes
  "Const", "ReadVariableOp", "StatefulPartitionedCall", "PartitionedCall", "NoOp",
];
const ALLOWED = new Set(OP_ALLOW_LIST);

/** Output argument names of allowed ops with more than one output argument (the others index their only one). */
const OUTPUT_ARGS: Record<string, string[]> = {
  FusedBatchNorm: ["y", "batch_mean", "batch_variance", "reserve_space_1", "reserve_space_2"],
  FusedBatchNormV2: ["y", "batch_mean", "batch_variance", "reserve_space_1", "reserve_space_2"],
  FusedBatchNormV3: ["y", "batch_mean", "batch_variance", "reserve_space_1", "reserve_space_2", "reserve_space_3"],
};

/**
 * TensorFlow attribute defaults that SavedModels leave out (attributes equal to their default
 * are stripped) and tfjs-converter's op mappers have no default for.
 */
const ONES = { list: { i: [1, 1, 1, 1] } };
const NHWC = { s: Buffer.from("NHWC").toString("base64") };
const DEFAULT_ATTRS: Record<string, Record<string, AttrJson>> = {
  Conv2D: { dilations: ONES }, DepthwiseConv2d: { dilations: ONES }, DepthwiseConv2dNative: { dilations: ONES }, DepthToSpace: { data_format: NHWC },
};

export class GraphInterpretError extends Error {
  constructor(readonly where: string, problem: string) {
    super(`${where}: ${problem}`);
    this.name = "GraphInterpretError";
  }
}

/** A value inside the graph: a tensor output of a flat node ("name:k"), or a captured variable. */
type Value = { tensor: string } | { variable: number };

export interface FlatConst { name: string; dtype: "float32" | "int32" | "bool"; shape: number[]; values: number[] | Float32Array | Int32Array | Uint8Array }
export interface FlatGraph {
  /** Nodes in tfjs-converter's GraphDef JSON form. */
  nodes: Array<{ name: string; op: string; input: string[]; attr: Record<string, AttrJson> }>;
  consts: FlatConst[];
  input: string;
  output: string;
  /** Placeholder name of each captured variable, by variable index. */
  variables: string[];
}

const DTYPES: Record<number, FlatConst["dtype"]> = { [DT.FLOAT]: "float32", [DT.INT32]: "int32", [DT.BOOL]: "bool" };

/**
 * Flattens `fnName` (a concrete function of the library) called with the model input as its
 * first argument and the variables `0..captured-1` as its last `captured` arguments.
 */
export function inlineSignatureFunction(graph: MetaGraph, fnName: string, captured: number, inputShape: number[], where: string): FlatGraph {
  const out: FlatGraph = { nodes: [], consts: [], input: "input", output: "", variables: [] };
  out.nodes.push({ name: "input", op: "Placeholder", input: [], attr: { dtype: { type: DT.FLOAT }, shape: { shape: { dim: inputShape.map((size) => ({ size })) } } } });
  for (let v = 0; v < captured; v++) {
    const name = `variable_${v}`;
    out.variables.push(name);
    out.nodes.push({ name, op: "Placeholder", input: [], attr: { dtype: { type: DT.FLOAT } } });
  }
  let calls = 0;

  const inline = (fn: FunctionDef, args: Value[], prefix: string, depth: number): Value[] => {
    const here = `${where}: function ${fn.name}`;
    if (depth > 32) throw new GraphInterpretError(here, "calls nested more than 32 deep (recursive functions are not supported)");
    if (args.length !== fn.inputs.length) throw new GraphInterpretError(here, `called with ${args.length} arguments, it takes ${fn.inputs.length}`);
    const byName = new Map(fn.nodes.map((n) => [n.name, n]));
    const argByName = new Map(fn.inputs.map((a, i) => [a.name, args[i]!]));
    const done = new Map<string, Value[]>();
    const visiting = new Set<string>();

    const resolve = (ref: string): Value => {
      const parts = ref.split(":");
      if (parts.length === 1) {
        const arg = argByName.get(ref);
        if (!arg) throw new GraphInterpretError(here, `input "${ref}" names no argument`);
        return arg;
      }
      const [nodeName, argName, idx] = [parts[0]!, parts[1]!, Number(parts[2] ?? 0)];
      const node = byName.get(nodeName) ?? fail(`input "${ref}" names no node`);
      const outs = evaluate(node);
      const names = OUTPUT_ARGS[node.op];
      const k = names ? names.indexOf(argName) + idx : idx;
      if (names && names.indexOf(argName) < 0) fail(`node ${node.name} (${node.op}) has no output "${argName}"`);
      return outs[k] ?? fail(`node ${node.name} (${node.op}) has no output ${argName}:${idx}`);
    };
    const fail = (problem: string): never => { throw new GraphInterpretError(here, problem); };

    const evaluate = (node: NodeDef): Value[] => {
      const known = done.get(node.name);
      if (known) return known;
      if (visiting.has(node.name)) fail(`node ${node.name} is part of a cycle`);
      visiting.add(node.name);
      const inputs = node.inputs.filter((i) => !i.startsWith("^")).map(resolve);
      const result = emit(node, inputs);
      visiting.delete(node.name);
      done.set(node.name, result);
      return result;
    };

    const emit = (node: NodeDef, inputs: Value[]): Value[] => {
      if (!ALLOWED.has(node.op)) fail(`op ${node.op} (node ${node.name}) is not supported; supported ops: see OP_ALLOW_LIST in packages/models/src/savedmodel/inline.ts`);
      const flatName = `${prefix}${node.name}`;
      switch (node.op) {
        case "NoOp":
          return [];
        case "ReadVariableOp":
        case "Identity":
          if (node.op === "ReadVariableOp") {
            const handle = inputs[0];
            if (!handle || !("variable" in handle)) fail(`ReadVariableOp ${node.name} reads a handle that is not a captured variable`);
            // The value of a variable is the Placeholder fed with the layer's tf.Variable.
            return [{ tensor: `${out.variables[(handle as { variable: number }).variable]}:0` }];
          }
          if ("variable" in inputs[0]!) return [inputs[0]!]; // Identity of a handle is the handle
          break;
        case "Const": {
          const bytes = node.attr.value?.tensorBytes ?? fail(`Const ${node.name} has no value`);
          const t: TensorValue = tensorOf(bytes, `${here}: Const ${node.name}`);
          out.consts.push({ name: flatName, dtype: DTYPES[t.dtype] ?? fail(`Const ${node.name} has dtype ${t.dtype}`), shape: t.shape, values: t.values });
          out.nodes.push({ name: flatName, op: "Const", input: [], attr: { dtype: { type: t.dtype } } });
          return [{ tensor: `${flatName}:0` }];
        }
        case "StatefulPartitionedCall":
        case "PartitionedCall": {
          const callee = node.attr.f?.func?.name ?? fail(`${node.op} ${node.name} names no function`);
          const fn2 = graph.functions.get(callee) ?? fail(`${node.op} ${node.name} calls ${callee}, which is not in the function library`);
          return inline(fn2, inputs, `${prefix}c${++calls}/`, depth + 1);
        }
      }
      const handle = inputs.findIndex((v) => "variable" in v);
      if (handle >= 0 && node.op !== "Identity") fail(`op ${node.op} (node ${node.name}) takes a variable handle; only ReadVariableOp may read variables`);
      out.nodes.push({ name: flatName, op: node.op, input: inputs.map((v) => ("variable" in v ? `${out.variables[v.variable]}:0` : v.tensor)), attr: { ...DEFAULT_ATTRS[node.op], ...node.attr } });
      const count = node.op === "IdentityN" ? inputs.length
        : node.op === "Unpack" ? (node.attr.num?.i ?? 1)
        : node.op === "Split" || node.op === "SplitV" ? (node.attr.num_split?.i ?? 1)
        : node.op === "ShapeN" ? (node.attr.N?.i ?? 1)
        : (OUTPUT_ARGS[node.op]?.length ?? 1);
      return Array.from({ length: count }, (_, k) => ({ tensor: `${flatName}:${k}` }));
    };

    return fn.outputs.map((o) => {
      const ref = fn.ret.get(o.name) ?? fail(`output ${o.name} has no return value`);
      return resolve(ref);
    });
  };

  const fn = graph.functions.get(fnName) ?? (() => { throw new GraphInterpretError(where, `signature function ${fnName} is not in the function library`); })();
  const userArgs = fn.inputs.length - captured;
  if (userArgs !== 1) throw new GraphInterpretError(`${where}: function ${fnName}`, `takes ${userArgs} inputs besides its ${captured} variables; only single-input models are supported`);
  const args: Value[] = [{ tensor: "input:0" }, ...Array.from({ length: captured }, (_, v) => ({ variable: v }))];
  const results = inline(fn, args, "", 0);
  if (results.length !== 1) throw new GraphInterpretError(`${where}: function ${fnName}`, `returns ${results.length} outputs; only single-output models are supported`);
  const result = results[0]!;
  if ("variable" in result) throw new GraphInterpretError(`${where}: function ${fnName}`, "returns a variable handle, not a tensor");
  out.output = result.tensor;
  return out;
}
