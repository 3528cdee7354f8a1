/**
 * TF2 SavedModel directories written by tf.keras (`model.save("dir")`): the architecture and
 * training config come from `keras_metadata.pb` (SavedMetadata {nodes=1: SavedObject
 * {node_id=2, node_path=3, identifier=4, metadata=5 JSON}}), the weights from the variables
 * bundle. Checkpoint keys differ between Keras versions (`layer_with_weights-0/kernel/...` in
 * 2.12, `variables/7/...` in 2.8), so they are matched to layers through the object graph
 * stored in `_CHECKPOINTABLE_OBJECT_GRAPH`, whose SerializedTensor {name=1, full_name=2,
 * checkpoint_key=3} gives each variable's Keras name, e.g. `conv1_bn/moving_mean`.
 * TF 2.1-2.4 wrote no keras_metadata.pb: their root metadata sits in saved_model.pb's object
 * graph. A SavedModel without a Keras config is interpreted instead (graph-savedmodel.ts): its
 * graph's ops, from an allow-list, run as TF.js ops; nothing from the directory runs as code.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import type { LayersModel } from "../tfjs.js";
import { buildKerasModel, compileFromTrainingConfig } from "../keras/build.js";
import { KerasModelError } from "../keras/errors.js";
import type { KerasLoadOptions } from "../keras/h5-model.js";
import { type LayerWeights, type StoredWeight, leafLayers, splitWeightName } from "../keras/weights-map.js";
import { readBundle } from "./bundle.js";
import { first, protoFields, text } from "./proto.js";
import type { MetaGraph } from "./graph-proto.js";
import { loadGraphSavedModel, readSavedModelProto } from "./graph-savedmodel.js";

/**
 * The root object's Keras metadata: from keras_metadata.pb (TF 2.5+), else from saved_model.pb's
 * object graph, where TF 2.1-2.4 kept it (SavedUserObject.metadata of node 0). Undefined when
 * the file has none, or only a subclassed model's (no config to rebuild layers from).
 */
function rootMetadata(dir: string, graph: () => MetaGraph): { root?: Record<string, unknown>; training?: unknown; kerasVersion?: string } {
  const file = path.join(dir, "keras_metadata.pb");
  let json: string | undefined;
  if (existsSync(file)) {
    try {
      for (const node of protoFields(readFileSync(file))) {
        if (node.field !== 1) continue;
        const f = protoFields(node.bytes);
        if (text(first(f, 3)?.bytes) === "root") json = text(first(f, 5)?.bytes);
      }
    } catch (err) {
      throw new KerasModelError(file, `corrupt keras_metadata.pb (${(err as Error).message})`);
    }
  } else {
    json = graph().objects[0]?.metadata || undefined;
  }
  if (!json) return {};
  let root: Record<string, unknown>;
  try {
    root = JSON.parse(json) as Record<string, unknown>;
  } catch (err) {
    throw new KerasModelError(existsSync(file) ? file : path.join(dir, "saved_model.pb"), `the root object's Keras metadata is not JSON (${(err as Error).message})`);
  }
  const kerasVersion = typeof root.keras_version === "string" ? root.keras_version : undefined;
  if (typeof root.config !== "object" || root.config === null || root.is_graph_network === false) return { training: root.training_config, kerasVersion };
  return { root, training: root.training_config, kerasVersion };
}

/** checkpoint key -> Keras variable full name, from the TrackableObjectGraph. */
function checkpointNames(graph: Uint8Array): Map<string, string> {
  const names = new Map<string, string>();
  for (const node of protoFields(graph)) {
    if (node.field !== 1) continue;
    for (const attr of protoFields(node.bytes)) {
      if (attr.field !== 2) continue;
      const a = protoFields(attr.bytes);
      names.set(text(first(a, 3)?.bytes), text(first(a, 2)?.bytes));
    }
  }
  return names;
}

/** The layer weights of a Keras SavedModel, each with the checkpoint key it came from. */
function readWeightsWithKeys(dir: string): Map<string, Array<StoredWeight & { key: string }>> {
  const prefix = path.join(dir, "variables", "variables");
  const bundle = readBundle(prefix);
  const graph = bundle.get("_CHECKPOINTABLE_OBJECT_GRAPH")?.strings?.[0];
  if (!graph) throw new KerasModelError(`${prefix}.index`, "no _CHECKPOINTABLE_OBJECT_GRAPH entry: not a TF2 object-based checkpoint");
  const names = checkpointNames(graph);
  const out = new Map<string, Array<StoredWeight & { key: string }>>();
  for (const [key, tensor] of bundle) {
    if (!tensor.float32 || key.startsWith("optimizer/") || key.startsWith("keras_api/") || key.includes(".OPTIMIZER_SLOT")) continue;
    const full = names.get(key);
    if (!full || !full.includes("/")) continue;
    const { layer, name } = splitWeightName(full);
    const list = out.get(layer) ?? [];
    list.push({ name, shape: tensor.shape, data: tensor.float32, key });
    out.set(layer, list);
  }
  return out;
}

function readWeights(dir: string): LayerWeights {
  return readWeightsWithKeys(dir);
}

/**
 * Checkpoint key -> current values of a model built from the Keras SavedModel at `dir`: the
 * inverse of assignWeights (same layer names, weights matched by name, else by order).
 */
export function kerasSavedModelValues(model: LayersModel, dir: string): Map<string, Float32Array> {
  const stored = readWeightsWithKeys(dir);
  const out = new Map<string, Float32Array>();
  for (const layer of leafLayers(model)) {
    if (layer.weights.length === 0) continue;
    const found = stored.get(layer.name);
    if (!found || found.length !== layer.weights.length) throw new KerasModelError(dir, `layer "${layer.name}" has ${layer.weights.length} weights, the SavedModel ${found?.length ?? 0}`);
    layer.weights.forEach((w, k) => {
      const want = w.originalName.replace(/:\d+$/, "").split("/").pop();
      const source = found.find((f) => f.name === want) ?? found[k]!;
      out.set(source.key, Float32Array.from(w.read().dataSync()));
    });
  }
  return out;
}

export function isSavedModelDir(dir: string): boolean {
  try {
    return statSync(dir).isDirectory();
  } catch {
    return false;
  }
}

/**
 * A SavedModel directory as a trainable TF.js model: rebuilt from its Keras config where it has
 * one, else by interpreting its serving signature's graph (graph-savedmodel.ts), compiled from
 * a subclassed model's saved training config when there is one.
 */
export async function loadKerasSavedModel(dir: string, options: KerasLoadOptions = {}): Promise<LayersModel> {
  if (!isSavedModelDir(dir)) throw new KerasModelError(dir, "not a directory: a TensorFlow SavedModel is a directory with saved_model.pb and variables/");
  if (!existsSync(path.join(dir, "saved_model.pb"))) {
    throw new KerasModelError(dir, existsSync(path.join(dir, "saved_model.pbtxt")) ? "saved_model.pbtxt (text format) is not supported; save the binary saved_model.pb" : "no saved_model.pb: not a TensorFlow SavedModel directory");
  }
  let graph: MetaGraph | undefined;
  const readGraph = () => (graph ??= readSavedModelProto(dir));
  const { root, training, kerasVersion } = rootMetadata(dir, readGraph);
  if (!root) {
    // A subclassed tf.keras 2.x model: the graph is interpreted, then compiled from its saved
    // training_config as a Keras-config model is (same loss objects, from_logits included, and
    // the file's Keras generation for optimizer defaults).
    const model = loadGraphSavedModel(dir, readGraph());
    compileFromTrainingConfig(model, training, kerasVersion, options, path.join(dir, "saved_model.pb"));
    return model;
  }
  let weights: LayerWeights;
  try {
    weights = readWeights(dir);
  } catch (err) {
    if (err instanceof KerasModelError) throw err;
    throw new KerasModelError(dir, (err as Error).message);
  }
  const modelConfig = { class_name: root.class_name, config: root.config };
  return buildKerasModel({ modelConfig, weights, trainingConfig: root.training_config, kerasVersion, ignoreTrainingConfig: options.ignoreTrainingConfig, customFunctions: options.customFunctions }, {
    file: dir,
    custom: new Set(options.customClasses ?? []),
  });
}
