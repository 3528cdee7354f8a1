/**
 * Writes a tfjs-layers model as a Keras 2 HDF5 full model (what `model.save("m.h5")` writes
 * and `keras.models.load_model` reads): root attrs model_config / training_config /
 * keras_version / backend, and group model_weights with `layer_names` and, per top-level
 * layer, `weight_names` + datasets at those paths. String lists are fixed-length ASCII like
 * Keras 2.2.4 writes them (every Keras version decodes bytes); a layer without weights gets an
 * empty float64 `weight_names`, again as Keras writes it.
 */
import { rename, rm } from "node:fs/promises";
import h5wasm from "h5wasm/node";
import type { LayersModel } from "../tfjs.js";
import { KerasInferenceIdentity } from "./inference-layers.js";
import { type H5Group, type H5File, groupAt, readyH5 } from "./h5.js";
import { leafLayers } from "./weights-map.js";

/** The format level of what we write; Keras only compares it against "1" to convert very old files. */
const KERAS_VERSION = "2.12.0";

type Obj = Record<string, unknown>;

/** Restores the Keras class and config of layers that Cohort replaced on import. */
function restoreKerasLayers(node: unknown, byName: Map<string, unknown>): unknown {
  if (Array.isArray(node)) return node.map((n) => restoreKerasLayers(n, byName));
  if (typeof node !== "object" || node === null) return node;
  const obj = node as Obj;
  const cfg = obj.config as Obj | undefined;
  if (obj.class_name === "KerasInferenceIdentity" && cfg) {
    const layer = byName.get(String(cfg.name));
    if (layer instanceof KerasInferenceIdentity && layer.kerasConfig) {
      return { ...obj, class_name: layer.kerasClass, config: JSON.parse(Buffer.from(layer.kerasConfig, "base64").toString("utf8")) };
    }
  }
  if (obj.class_name === "KerasGRU" && cfg) {
    return { ...obj, class_name: "GRU", config: restoreKerasLayers({ ...cfg, reset_after: true }, byName) };
  }
  if (obj.class_name === "KerasResizing" && cfg) {
    return { ...obj, class_name: "Resizing", config: { ...cfg, crop_to_aspect_ratio: cfg.crop_to_aspect_ratio ?? false } };
  }
  return Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, restoreKerasLayers(v, byName)]));
}

const MODEL_CLASSES = new Set(["Sequential", "Functional", "Model"]);

/**
 * What Keras 3 needs beyond the Keras 2 layout tfjs writes: a nested model with one input or
 * output names it as a bare [layer, node, tensor] (a list of one would hand the next layer a
 * list), and a wrapper's inner layer carries `module` (Keras 3 deserialises it on its own).
 * Keras 2 reads both.
 */
function keras3Compatible(node: unknown, nested: boolean): unknown {
  if (Array.isArray(node)) return node.map((n) => keras3Compatible(n, nested));
  if (typeof node !== "object" || node === null) return node;
  const obj = node as Obj;
  const cls = obj.class_name;
  const isModel = typeof cls === "string" && MODEL_CLASSES.has(cls);
  const out: Obj = {};
  for (const [k, v] of Object.entries(obj)) out[k] = keras3Compatible(v, nested || isModel);
  const cfg = out.config as Obj | undefined;
  if (isModel && nested && cfg) {
    for (const key of ["input_layers", "output_layers"]) {
      const refs = cfg[key];
      if (Array.isArray(refs) && refs.length === 1 && Array.isArray(refs[0])) cfg[key] = refs[0];
    }
  }
  if ((cls === "Bidirectional" || cls === "TimeDistributed") && cfg && typeof cfg.layer === "object" && cfg.layer !== null) {
    cfg.layer = { module: "keras.layers", ...(cfg.layer as Obj) };
  }
  return out;
}

const snake = (s: string) => s.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toLowerCase();

function trainingConfig(model: LayersModel): Obj | undefined {
  const optimizer = model.optimizer as unknown as { getClassName(): string; learningRate?: number } | undefined;
  const loss = (model as unknown as { loss?: unknown }).loss;
  if (!optimizer || typeof loss !== "string") return undefined;
  const lr = typeof optimizer.learningRate === "number" ? optimizer.learningRate : undefined;
  return {
    optimizer_config: { class_name: optimizer.getClassName(), config: lr !== undefined ? { learning_rate: lr } : {} },
    loss: snake(loss),
    metrics: (model.metricsNames ?? []).filter((m) => m !== "loss").map(snake),
    loss_weights: null,
    sample_weight_mode: null,
  };
}

function stringList(obj: H5File | H5Group, name: string, values: string[]): void {
  if (values.length === 0) {
    obj.create_attribute(name, new Float64Array(0), [0], "<d");
    return;
  }
  const width = Math.max(1, ...values.map((v) => Buffer.byteLength(v)));
  obj.create_attribute(name, values, [values.length], `S${width}`);
}

/** The `save_weights` / `model_weights` layout into `root`. */
function writeLayerWeights(root: H5File | H5Group, model: LayersModel): void {
  root.create_attribute("keras_version", KERAS_VERSION);
  root.create_attribute("backend", "tensorflow");
  // Keras lists every top-level layer except the InputLayer of a Functional/Sequential model.
  const layers = model.layers.filter((l) => l.getClassName() !== "InputLayer");
  stringList(root, "layer_names", layers.map((l) => l.name));
  for (const layer of layers) {
    const g = root.create_group(layer.name);
    const names = layer.weights.map((w) => (/:\d+$/.test(w.originalName) ? w.originalName : `${w.originalName}:0`));
    stringList(g, "weight_names", names);
    layer.weights.forEach((w, k) => {
      const parts = names[k].split("/");
      const leaf = parts.pop()!;
      const values = w.read().dataSync() as Float32Array;
      groupAt(g, parts).create_dataset({ name: leaf, data: Float32Array.from(values), shape: [...w.shape] as number[], dtype: "<f" });
    });
  }
}

/** Writes an h5 file atomically (temp file + rename). */
async function writeH5(file: string, fill: (f: H5File) => void): Promise<void> {
  await readyH5();
  const tmp = `${file}.tmp-${process.pid}`;
  const f = new h5wasm.File(tmp, "w");
  try {
    fill(f);
  } catch (err) {
    f.close();
    await rm(tmp, { force: true });
    throw err;
  }
  f.close();
  await rename(tmp, file);
}

/** `model.save_weights("w.h5")` layout: what model_weights (the spec key) expects beside model_architecture. */
export async function saveKerasWeightsH5(model: LayersModel, file: string): Promise<void> {
  await writeH5(file, (f) => writeLayerWeights(f, model));
}

/** The Keras `model.to_json()` of the model (what model_architecture expects). */
export function kerasModelJson(model: LayersModel): string {
  const byName = new Map<string, unknown>(leafLayers(model).map((l) => [l.name, l]));
  const config = keras3Compatible(restoreKerasLayers(model.toJSON(undefined, false), byName), false) as Obj;
  return JSON.stringify({ ...config, keras_version: KERAS_VERSION, backend: "tensorflow" });
}

export async function saveKerasH5(model: LayersModel, file: string): Promise<void> {
  const modelConfig = JSON.parse(kerasModelJson(model)) as Obj;
  delete modelConfig.keras_version;
  delete modelConfig.backend;
  await writeH5(file, (f) => {
    f.create_attribute("keras_version", KERAS_VERSION);
    f.create_attribute("backend", "tensorflow");
    f.create_attribute("model_config", JSON.stringify(modelConfig));
    const training = trainingConfig(model);
    if (training) f.create_attribute("training_config", JSON.stringify(training));
    writeLayerWeights(f.create_group("model_weights"), model);
  });
}
