/**
 * Keras model configs (Keras 2.2.4, tf.keras 1.15/2.x, Keras 3, SavedModel metadata) to the
 * Keras-2-style JSON that tfjs-layers deserialises. The differences handled here are the ones
 * real files show: `__tuple__` objects, DTypePolicy objects, `batch_shape`, Keras 3 node and
 * object layouts, list-valued BatchNormalization axes, and layer classes tfjs lacks.
 */
import { KerasModelError } from "./errors.js";
import "./inference-layers.js";
import "../atrous-conv.js";
import "./gru-reset-after.js";
import { tf } from "../tfjs.js";

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Obj = { [k: string]: Json };
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

/** Random augmentation and noise layers are the identity at inference. */
export const IDENTITY_AT_INFERENCE = new Set([
  "RandomFlip", "RandomRotation", "RandomZoom", "RandomContrast", "RandomTranslation", "RandomBrightness",
  "RandomCrop", "RandomHeight", "RandomWidth",
]);
const MODEL_CLASSES = new Set(["Sequential", "Functional", "Model"]);
/** Keys that only Keras' own (de)serialisation uses. */
const DROP = new Set(["module", "registered_name", "build_config", "compile_config", "shared_object_id"]);

/** Deep copy with tuples as arrays, dtype policies as names and Keras-3-only bookkeeping removed. */
function clean(v: Json): Json {
  if (Array.isArray(v)) return v.map(clean);
  if (!isObj(v)) return v;
  if (v.class_name === "__tuple__" && Array.isArray(v.items)) return v.items.map(clean);
  if ((v.class_name === "DTypePolicy" || v.class_name === "Policy") && isObj(v.config)) return typeof v.config.name === "string" && v.config.name.startsWith("mixed_") ? "float32" : v.config.name;
  const out: Obj = {};
  for (const [k, x] of Object.entries(v)) if (!DROP.has(k)) out[k] = clean(x);
  return out;
}

/** Keras 3 inbound node {args: [keras tensor...]} -> Keras 2 [[layer, node, tensor, {}]...]. */
function keras3Node(node: Json): Json {
  if (!isObj(node)) return node;
  const tensors: Json[] = [];
  const visit = (a: Json) => {
    if (Array.isArray(a)) a.forEach(visit);
    else if (isObj(a) && a.class_name === "__keras_tensor__" && isObj(a.config)) {
      const h = a.config.keras_history as Json[];
      tensors.push([h[0], h[1], h[2], {}]);
    }
  };
  visit(node.args ?? []);
  return tensors;
}

function tensorRefs(v: Json): Json {
  return Array.isArray(v) && typeof v[0] === "string" ? [v] : v;
}

export interface ConvertContext {
  file: string;
  /** Class names the user registered through custom_objects. */
  custom: Set<string>;
  /** Set from the config itself: Keras 3 writes `module` keys and DTypePolicy objects. */
  keras3?: boolean;
}

/** Keras 3 configs carry `"module": "keras..."` and DTypePolicy objects; Keras 2 configs neither. */
export function isKeras3Config(v: unknown): boolean {
  if (Array.isArray(v)) return v.some(isKeras3Config);
  if (!isObj(v)) return false;
  if (v.class_name === "DTypePolicy" || (typeof v.module === "string" && v.module.startsWith("keras"))) return true;
  return Object.values(v).some(isKeras3Config);
}

function layerError(ctx: ConvertContext, layer: Obj, problem: string): KerasModelError {
  const cfg = isObj(layer.config) ? layer.config : {};
  return new KerasModelError(ctx.file, `layer "${String(cfg.name ?? layer.name ?? "?")}" (${String(layer.class_name)}): ${problem}`);
}

function registered(): Set<string> {
  return new Set(Object.keys(tf.serialization.SerializationMap.getMap().classNameMap));
}

function convertLayer(layer: Obj, ctx: ConvertContext, known: Set<string>): Obj {
  const cls = String(layer.class_name);
  const cfg = isObj(layer.config) ? { ...layer.config } : {};
  if (Array.isArray(layer.inbound_nodes)) layer.inbound_nodes = layer.inbound_nodes.map(keras3Node);
  if (cfg.batch_shape !== undefined && cfg.batch_input_shape === undefined) cfg.batch_input_shape = cfg.batch_shape;
  delete cfg.batch_shape;
  if (MODEL_CLASSES.has(cls)) return { ...layer, config: convertModelConfig(cls, cfg, ctx, known) };
  if (IDENTITY_AT_INFERENCE.has(cls)) {
    const keep: Obj = { name: cfg.name, trainable: cfg.trainable ?? true, kerasClass: cls, kerasConfig: Buffer.from(JSON.stringify(cfg)).toString("base64") };
    if (cfg.batch_input_shape !== undefined) keep.batch_input_shape = cfg.batch_input_shape;
    return { ...layer, class_name: "KerasInferenceIdentity", config: keep };
  }
  if (cls === "Resizing") return { ...layer, class_name: "KerasResizing", config: cfg };
  if (cls === "Bidirectional" || cls === "TimeDistributed") return { ...layer, config: convertWrapper(layer, cfg, ctx, known) };
  if (cls === "GRU" && cfg.reset_after === true) {
    return convertLayer({ ...layer, class_name: "KerasGRU", config: { ...cfg, reset_after: false } }, ctx, known);
  }
  if (cls === "ReLU") {
    if (Number(cfg.negative_slope ?? 0) !== 0 || Number(cfg.threshold ?? 0) !== 0) throw layerError(ctx, layer, "ReLU with negative_slope or threshold is not supported (max_value is)");
    delete cfg.negative_slope;
    delete cfg.threshold;
  }
  if (cls === "LayerNormalization" && cfg.rms_scaling === true) throw layerError(ctx, layer, "rms_scaling=true is not supported (TensorFlow.js' LayerNormalization has no RMS variant)");
  delete cfg.rms_scaling;
  if (ctx.keras3) {
    // Keras 3's hard_sigmoid is relu6(x + 3) / 6 (slope 1/6); Keras 2's and TensorFlow.js' is clip(0.2 x + 0.5).
    const hard = Object.entries(cfg).find(([k, v]) => k.endsWith("activation") && v === "hard_sigmoid");
    if (hard) throw layerError(ctx, layer, `${hard[0]}="hard_sigmoid" of Keras 3 (slope 1/6) differs from TensorFlow.js' hard_sigmoid (slope 0.2); use "sigmoid"`);
  }
  if (cls === "BatchNormalization" && Array.isArray(cfg.axis)) {
    if (cfg.axis.length !== 1) throw layerError(ctx, layer, `multi-axis normalisation axis=[${cfg.axis}] is not supported`);
    cfg.axis = cfg.axis[0];
  }
  if (cls === "DepthwiseConv2D" && [cfg.dilation_rate ?? 1].flat().some((d) => Number(d) !== 1)) {
    // tfjs 4.22's DepthwiseConv2D accepts dilation_rate but convolves without it: refuse rather than compute something else.
    throw layerError(ctx, layer, `dilation_rate=${JSON.stringify(cfg.dilation_rate)} is not supported (TensorFlow.js' DepthwiseConv2D ignores dilation)`);
  }
  if ("groups" in cfg) {
    if (Number(cfg.groups) !== 1) throw layerError(ctx, layer, `grouped convolution (groups=${cfg.groups}) is not supported`);
    delete cfg.groups;
  }
  for (const k of ["lora_rank", "lora_alpha", "quantization_config"]) if (cfg[k] === null || cfg[k] === undefined) delete cfg[k];
  for (const [k, v] of Object.entries(cfg)) {
    // tf.keras 2.x writes L1/L2 regularizers that tfjs only knows as L1L2.
    if (k.endsWith("_regularizer") && isObj(v) && (v.class_name === "L1" || v.class_name === "L2") && isObj(v.config)) {
      const c = v.config;
      cfg[k] = { class_name: "L1L2", config: { l1: v.class_name === "L1" ? (c.l1 ?? 0.01) : 0, l2: v.class_name === "L2" ? (c.l2 ?? 0.01) : 0 } };
    }
  }
  if (!known.has(cls)) {
    throw layerError(ctx, layer, `unknown layer class "${cls}": tfjs-layers has no such layer and it is not registered; ` +
      `if it is a custom layer, add it to the spec's custom_objects ({key: ${cls}, value: <export name>, path: <JS module>})`);
  }
  return { ...layer, config: cfg };
}

/** Bidirectional / TimeDistributed: the wrapped layer is converted like any other. */
function convertWrapper(layer: Obj, cfg: Obj, ctx: ConvertContext, known: Set<string>): Obj {
  if (!isObj(cfg.layer)) throw layerError(ctx, layer, "no wrapped layer config");
  const out: Obj = { ...cfg, layer: convertLayer(cfg.layer, ctx, known) };
  if (isObj(cfg.backward_layer)) {
    // tfjs builds the backward layer from the forward one (go_backwards flipped); Keras stores it
    // separately, and a user-given backward layer of another kind cannot be honoured.
    const strip = (l: Obj) => JSON.stringify({ ...l, config: { ...(isObj(l.config) ? l.config : {}), name: null, go_backwards: null } });
    if (strip(cfg.backward_layer) !== strip(cfg.layer)) throw layerError(ctx, layer, "a backward_layer that differs from the forward layer is not supported");
    delete out.backward_layer;
  }
  return out;
}

/** Names of the Keras tensors a Keras 3 node takes as positional args (not kwargs such as mask). */
function argHistories(node: Json): string[] {
  const names: string[] = [];
  const visit = (a: Json) => {
    if (Array.isArray(a)) a.forEach(visit);
    else if (isObj(a) && a.class_name === "__keras_tensor__" && isObj(a.config) && Array.isArray(a.config.keras_history)) names.push(String(a.config.keras_history[0]));
  };
  if (isObj(node)) visit(node.args ?? []);
  return names;
}

/**
 * Keras 3 records an Embedding's `mask_zero` mask as an explicit `NotEqual(inputs, 0)` op whose
 * output feeds later layers' `mask` kwargs. TF.js derives the same mask from the Embedding
 * itself and the kwargs are not carried over, so such an op is dropped when nothing takes it
 * as a positional input (then it is computation, and refused as an unknown class).
 */
function withoutMaskOps(layers: Json[]): Json[] {
  const maskOps = new Set(layers.filter((l) => isObj(l) && l.class_name === "NotEqual" && isObj(l.config)).map((l) => String(((l as Obj).config as Obj).name)));
  if (maskOps.size === 0) return layers;
  for (const l of layers) {
    if (!isObj(l) || !Array.isArray(l.inbound_nodes)) continue;
    for (const node of l.inbound_nodes) for (const name of argHistories(node)) maskOps.delete(name);
  }
  return layers.filter((l) => !(isObj(l) && isObj(l.config) && maskOps.has(String(l.config.name))));
}

function convertModelConfig(cls: string, cfg: Obj, ctx: ConvertContext, known: Set<string>): Obj {
  // Keras < 2.2.3 stored a Sequential's config as the bare list of layers.
  const layers = withoutMaskOps(Array.isArray(cfg.layers) ? cfg.layers : []);
  const converted = layers.map((l) => {
    if (!isObj(l)) throw new KerasModelError(ctx.file, `a layer entry of model "${String(cfg.name)}" is not an object`);
    return convertLayer(l, ctx, known);
  });
  const out: Obj = { ...cfg, layers: converted };
  if (cls === "Sequential") {
    // Keras 3 may omit the InputLayer and keep the shape only in build_input_shape.
    const first = converted[0] as Obj | undefined;
    const firstCfg = first && isObj(first.config) ? first.config : undefined;
    if (first && firstCfg && first.class_name !== "InputLayer" && firstCfg.batch_input_shape === undefined && Array.isArray(cfg.build_input_shape)) {
      firstCfg.batch_input_shape = cfg.build_input_shape;
    }
  } else {
    out.input_layers = tensorRefs(cfg.input_layers);
    out.output_layers = tensorRefs(cfg.output_layers);
  }
  delete out.build_input_shape;
  return out;
}

/** A Keras `{class_name, config}` model config as tfjs-layers reads it. */
export function kerasToTfjsTopology(modelConfig: unknown, ctx: ConvertContext): Obj {
  const root = clean(modelConfig as Json);
  if (!isObj(root) || typeof root.class_name !== "string") throw new KerasModelError(ctx.file, "model config has no class_name: not a Keras model config");
  let config = root.config as Json;
  if (Array.isArray(config)) config = { name: "sequential", layers: config };
  if (!isObj(config)) throw new KerasModelError(ctx.file, `model config of class ${root.class_name} has no config object`);
  if (!MODEL_CLASSES.has(root.class_name)) {
    throw new KerasModelError(ctx.file, `top-level class "${root.class_name}" is not a Sequential or Functional model (a subclassed model has no config to rebuild from)`);
  }
  const known = registered();
  for (const c of ctx.custom) known.add(c);
  ctx = { ...ctx, keras3: ctx.keras3 ?? isKeras3Config(modelConfig) };
  return { class_name: root.class_name, config: convertModelConfig(root.class_name, config, ctx, known) };
}
