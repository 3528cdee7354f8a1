/**
 * SavedModels without a Keras config (a subclassed tf.keras Model, a tf.Module written by
 * tf.saved_model.save, a Keras 3 model.export()) as trainable TF.js models: the serving
 * signature's concrete function is flattened (inline.ts) and run by a SavedModelGraph layer
 * whose weights are the function's captured variables, read from the checkpoint bundle.
 * Variables are matched to checkpoint keys through the object graph: saved_model.pb's
 * SavedObjectGraph and the bundle's _CHECKPOINTABLE_OBJECT_GRAPH number their nodes alike.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { tf, tfl, type LayersModel } from "../tfjs.js";
import { KerasModelError } from "../keras/errors.js";
import { type BundleTensor, readBundle } from "./bundle.js";
import { DT, type MetaGraph, type SavedObject, readMetaGraph } from "./graph-proto.js";
import { type GraphVariable, SavedModelGraph } from "./graph-layer.js";
import { inlineSignatureFunction } from "./inline.js";
import { first, protoFields, text } from "./proto.js";

const VARIABLE_VALUE = "VARIABLE_VALUE";
const INIT_SIGNATURE = "__saved_model_init_op";

/** A SavedModel's variable as Cohort names it, with where it lives in the checkpoint. */
export interface CapturedVariable extends GraphVariable { nodeId: number; checkpointKey: string }

export interface SavedModelGraphInfo {
  signature: string;
  function: string;
  variables: CapturedVariable[];
}

/** Object graph node id -> checkpoint key of its VARIABLE_VALUE (TrackableObject {attributes=2 {name=1, checkpoint_key=3}}). */
export function checkpointKeysById(objectGraph: Uint8Array): Map<number, string> {
  const keys = new Map<number, string>();
  protoFields(objectGraph).filter((n) => n.field === 1).forEach((node, id) => {
    for (const attr of protoFields(node.bytes)) {
      if (attr.field !== 2) continue;
      const a = protoFields(attr.bytes);
      if (text(first(a, 1)?.bytes) === VARIABLE_VALUE) keys.set(id, text(first(a, 3)?.bytes));
    }
  });
  return keys;
}

export function readSavedModelProto(dir: string): MetaGraph {
  const file = path.join(dir, "saved_model.pb");
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    throw new KerasModelError(file, `cannot read (${(err as NodeJS.ErrnoException).code ?? String(err)}); a SavedModel directory holds saved_model.pb and variables/`);
  }
  try {
    return readMetaGraph(bytes, file);
  } catch (err) {
    throw new KerasModelError(file, `not a readable SavedModel (${(err as Error).message})`);
  }
}

function pickSignature(graph: MetaGraph, where: string): string {
  if (graph.signatures.has("serving_default")) return "serving_default";
  const names = [...graph.signatures.keys()].filter((k) => k !== INIT_SIGNATURE);
  if (names.length === 1) return names[0]!;
  throw new KerasModelError(where, `no serving_default signature and ${names.length ? `several others (${names.join(", ")})` : "no other"}: cannot tell which function is the model`);
}

/** Where each captured input of `fn` lives, with unique names (the variable's own name, else its checkpoint path). */
function capturedVariables(graph: MetaGraph, fn: string, keys: Map<number, string>, where: string): CapturedVariable[] {
  const ids = graph.boundInputs.get(fn) ?? [];
  const found = ids.map((id): CapturedVariable => {
    const obj: SavedObject | undefined = graph.objects[id];
    if (obj?.kind !== "variable" || !obj.variable) throw new KerasModelError(where, `function ${fn} captures object ${id} (${obj?.kind ?? "missing"}), not a variable; only variables may be captured`);
    const checkpointKey = keys.get(id) ?? "";
    if (!checkpointKey) throw new KerasModelError(where, `variable ${obj.variable.name} (object ${id}) has no entry in the checkpoint's object graph`);
    return { nodeId: id, checkpointKey, name: obj.variable.name.replace(/:0$/, ""), shape: obj.variable.shape, trainable: obj.variable.trainable };
  });
  const counts = new Map<string, number>();
  for (const v of found) counts.set(v.name, (counts.get(v.name) ?? 0) + 1);
  for (const v of found) if (counts.get(v.name)! > 1 || !v.name) v.name = v.checkpointKey.replace(/\/\.ATTRIBUTES\/VARIABLE_VALUE$/, "");
  return found;
}

function float32Of(bundle: Map<string, BundleTensor>, v: CapturedVariable, where: string): Float32Array {
  const t = bundle.get(v.checkpointKey);
  if (!t) throw new KerasModelError(where, `variable ${v.name}: checkpoint key ${v.checkpointKey} is not in the variables bundle`);
  if (!t.float32) throw new KerasModelError(where, `variable ${v.name} has dtype ${t.dtype}; only float32 variables are supported`);
  if (t.shape.join(",") !== v.shape.join(",")) throw new KerasModelError(where, `variable ${v.name}: the bundle holds shape [${t.shape}], the object graph says [${v.shape}]`);
  return t.float32;
}

/** Which signature and function a graph SavedModel runs, and its variables (also used by the exporter). */
export function describeGraphSavedModel(dir: string, graph = readSavedModelProto(dir), bundle = readBundle(path.join(dir, "variables", "variables"))): SavedModelGraphInfo & { graph: MetaGraph; bundle: Map<string, BundleTensor> } {
  const where = path.join(dir, "saved_model.pb");
  const signature = pickSignature(graph, where);
  const outputs = [...graph.signatures.get(signature)!.outputs.values()];
  if (outputs.length !== 1) throw new KerasModelError(where, `signature ${signature} has ${outputs.length} outputs; only single-output models are supported`);
  const callName = outputs[0]!.name.split(":")[0]!;
  const call = graph.nodes.find((n) => n.name === callName);
  const fn = call?.attr.f?.func?.name;
  if (!call || !fn || !/PartitionedCall$/.test(call.op)) throw new KerasModelError(where, `signature ${signature}'s output ${outputs[0]!.name} is not the result of a function call (a TF1 graph?); only TF2 SavedModels are supported`);
  const objectGraph = bundle.get("_CHECKPOINTABLE_OBJECT_GRAPH")?.strings?.[0];
  if (!objectGraph) throw new KerasModelError(path.join(dir, "variables", "variables.index"), "no _CHECKPOINTABLE_OBJECT_GRAPH entry: not a TF2 object-based checkpoint");
  return { signature, function: fn, variables: capturedVariables(graph, fn, checkpointKeysById(objectGraph), where), graph, bundle };
}

/** Loads the SavedModel at `dir` by interpreting its serving signature's graph. */
export function loadGraphSavedModel(dir: string, graph?: MetaGraph, name = "savedmodel"): LayersModel {
  const where = path.join(dir, "saved_model.pb");
  const info = describeGraphSavedModel(dir, graph);
  const sig = info.graph.signatures.get(info.signature)!;
  const inputs = [...sig.inputs.values()];
  if (inputs.length !== 1) throw new KerasModelError(where, `signature ${info.signature} has ${inputs.length} inputs; only single-input models are supported`);
  if (inputs[0]!.dtype !== DT.FLOAT) throw new KerasModelError(where, `signature ${info.signature}'s input has dtype ${inputs[0]!.dtype}; only float32 inputs are supported`);
  const inShape = inputs[0]!.shape;
  if (!inShape || inShape.length < 2 || inShape.slice(1).some((d) => d < 0)) {
    throw new KerasModelError(where, `signature ${info.signature}'s input has shape [${inShape ?? "unknown"}]; every dimension but the batch must be known`);
  }
  const outShape = [...sig.outputs.values()][0]!.shape;
  let flat;
  try {
    flat = inlineSignatureFunction(info.graph, info.function, info.variables.length, [-1, ...inShape.slice(1)], where);
  } catch (err) {
    throw new KerasModelError(where, (err as Error).message.replace(`${where}: `, ""));
  }
  const layer = new SavedModelGraph({
    graph: flat,
    variables: info.variables.map(({ name, shape, trainable }) => ({ name, shape, trainable })),
    outputShape: (outShape ?? [-1, -1]).slice(1).map((d) => (d < 0 ? null : d)),
    name: "saved_model_graph",
  });
  const input = tfl.input({ shape: inShape.slice(1), name: "input" });
  const model = tfl.model({ inputs: input, outputs: layer.apply(input) as tfl.SymbolicTensor, name });
  const values = info.variables.map((v) => tf.tensor(float32Of(info.bundle, v, where), v.shape, "float32"));
  layer.setVariableValues(values);
  tf.dispose(values);
  return model;
}
