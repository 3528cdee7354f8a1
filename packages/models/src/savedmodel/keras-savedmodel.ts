/**
 * TF2 SavedModel directories written by tf.keras (`model.save("dir")`): the architecture and
 * training config come from `keras_metadata.pb` (SavedMetadata {nodes=1: SavedObject
 * {node_id=2, node_path=3, identifier=4, metadata=5 JSON}}), the weights from the variables
 * bundle. Checkpoint keys differ between Keras versions (`layer_with_weights-0/kernel/...` in
 * 2.12, `variables/7/...` in 2.8), so they are matched to layers through the object graph
 * stored in `_CHECKPOINTABLE_OBJECT_GRAPH`, whose SerializedTensor {name=1, full_name=2,
 * checkpoint_key=3} gives each variable's Keras name, e.g. `conv1_bn/moving_mean`.
 * The graph in saved_model.pb is never used: nothing from the directory is executed.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import type { LayersModel } from "../tfjs.js";
import { buildKerasModel } from "../keras/build.js";
import { KerasModelError } from "../keras/errors.js";
import type { KerasLoadOptions } from "../keras/h5-model.js";
import { type LayerWeights, splitWeightName } from "../keras/weights-map.js";
import { readBundle } from "./bundle.js";
import { first, protoFields, text } from "./proto.js";

const NO_KERAS_CONFIG =
  "a SavedModel without a Keras config (e.g. a subclassed tf.keras.Model, or one written by tf.saved_model.save) cannot be rebuilt " +
  "without running its graph, which Cohort does not do. Rebuild it as a Sequential or Functional model and save it with " +
  'model.save("model.h5", save_format="h5"), or export model.to_json() and model.save_weights("weights.h5") and use ' +
  "model_architecture + model_weights";

function rootMetadata(dir: string): Record<string, unknown> {
  const file = path.join(dir, "keras_metadata.pb");
  if (!existsSync(file)) throw new KerasModelError(dir, `no keras_metadata.pb: ${NO_KERAS_CONFIG}`);
  let root: Record<string, unknown> | undefined;
  try {
    for (const node of protoFields(readFileSync(file))) {
      if (node.field !== 1) continue;
      const f = protoFields(node.bytes);
      if (text(first(f, 3)?.bytes) !== "root") continue;
      root = JSON.parse(text(first(f, 5)?.bytes) || "{}") as Record<string, unknown>;
    }
  } catch (err) {
    throw new KerasModelError(file, `corrupt keras_metadata.pb (${(err as Error).message})`);
  }
  if (!root) throw new KerasModelError(file, `no root object in keras_metadata.pb: ${NO_KERAS_CONFIG}`);
  if (typeof root.config !== "object" || root.config === null || root.is_graph_network === false) {
    throw new KerasModelError(file, `the model (class ${String(root.class_name)}) is subclassed: ${NO_KERAS_CONFIG}`);
  }
  return root;
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

function readWeights(dir: string): LayerWeights {
  const prefix = path.join(dir, "variables", "variables");
  const bundle = readBundle(prefix);
  const graph = bundle.get("_CHECKPOINTABLE_OBJECT_GRAPH")?.strings?.[0];
  if (!graph) throw new KerasModelError(`${prefix}.index`, "no _CHECKPOINTABLE_OBJECT_GRAPH entry: not a TF2 object-based checkpoint");
  const names = checkpointNames(graph);
  const out: LayerWeights = new Map();
  for (const [key, tensor] of bundle) {
    if (!tensor.float32 || key.startsWith("optimizer/") || key.startsWith("keras_api/") || key.includes(".OPTIMIZER_SLOT")) continue;
    const full = names.get(key);
    if (!full || !full.includes("/")) continue;
    const { layer, name } = splitWeightName(full);
    const list = out.get(layer) ?? [];
    list.push({ name, shape: tensor.shape, data: tensor.float32 });
    out.set(layer, list);
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

export async function loadKerasSavedModel(dir: string, options: KerasLoadOptions = {}): Promise<LayersModel> {
  if (!isSavedModelDir(dir)) throw new KerasModelError(dir, "not a directory: a TensorFlow SavedModel is a directory with saved_model.pb and variables/");
  if (!existsSync(path.join(dir, "saved_model.pb")) && !existsSync(path.join(dir, "saved_model.pbtxt"))) {
    throw new KerasModelError(dir, "no saved_model.pb: not a TensorFlow SavedModel directory");
  }
  const root = rootMetadata(dir);
  let weights: LayerWeights;
  try {
    weights = readWeights(dir);
  } catch (err) {
    if (err instanceof KerasModelError) throw err;
    throw new KerasModelError(dir, (err as Error).message);
  }
  const modelConfig = { class_name: root.class_name, config: root.config };
  return buildKerasModel({ modelConfig, weights, trainingConfig: root.training_config, ignoreTrainingConfig: options.ignoreTrainingConfig, customFunctions: options.customFunctions }, {
    file: dir,
    custom: new Set(options.customClasses ?? []),
  });
}
