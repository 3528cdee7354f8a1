/**
 * Keras 3 weights (`model.weights.h5` inside a `.keras` archive, or `save_weights("x.weights.h5")`).
 * Keras 3's saving_lib stores each layer's variables at its object path, not under its name:
 * a model's `layers` list is a container whose items are keyed by their class name in snake
 * case, numbered in list order per class (`layers/conv2d`, `layers/conv2d_1`, ...), so a layer
 * named `conv2d_7` in a notebook is stored as `layers/conv2d`. Sub-objects add their attribute
 * names: an RNN's variables sit in `<path>/cell/vars`, a Bidirectional's in
 * `<path>/forward_layer/cell/vars` and `<path>/backward_layer/cell/vars`, a nested model's
 * layers under `<path>/layers/...`. The paths are rebuilt here from the model config.
 */
import h5wasm from "h5wasm/node";
import { KerasModelError } from "./errors.js";
import { type H5Dataset, type H5File, type H5Group, readFloat } from "./h5.js";
import type { LayerWeights, StoredWeight } from "./weights-map.js";

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

const RNN_CLASSES = new Set(["LSTM", "GRU", "SimpleRNN"]);
const MODEL_CLASSES = new Set(["Sequential", "Functional", "Model"]);

/** keras.src.utils.naming.to_snake_case: "Conv2D" -> "conv2d", "BatchNormalization" -> "batch_normalization", "SimpleRNN" -> "simple_rnn". */
export function kerasSnakeCase(name: string): string {
  return name
    .replace(/\W+/g, "")
    .replace(/(.)([A-Z][a-z]+)/g, "$1_$2")
    .replace(/([a-z])([A-Z])/g, "$1_$2")
    .toLowerCase();
}

/** Every variable group in the file: object path ("layers/lstm/cell") -> its vars in order. */
export function readKeras3VarGroups(root: H5File, file: string): Map<string, StoredWeight[]> {
  const out = new Map<string, StoredWeight[]>();
  const walk = (group: H5Group | H5File, prefix: string) => {
    for (const name of group.keys()) {
      const child = group.get(name);
      if (!(child instanceof h5wasm.Group)) continue;
      const where = prefix ? `${prefix}/${name}` : name;
      if (name === "vars") {
        const keys = child.keys().filter((k) => /^\d+$/.test(k)).sort((a, b) => Number(a) - Number(b));
        out.set(prefix, keys.map((k) => readFloat(child.get(k) as H5Dataset | undefined, file, `${where}/${k}`)));
      } else {
        walk(child, where);
      }
    }
  };
  if (!(root.get("layers") instanceof h5wasm.Group)) throw new KerasModelError(file, `no "layers" group: not a Keras 3 weights file (model.weights.h5 / .weights.h5)`);
  walk(root.get("layers") as H5Group, "layers");
  return out;
}

/** The object paths whose vars, concatenated, are this layer's weights in tfjs order. */
function varPaths(cls: string, cfg: Obj, at: string): string[] {
  if (RNN_CLASSES.has(cls)) return [`${at}/cell`];
  if (cls === "Bidirectional") return [`${at}/forward_layer/cell`, `${at}/backward_layer/cell`];
  if (cls === "TimeDistributed") return [`${at}/layer`];
  void cfg;
  return [at];
}

/**
 * Layer name -> the object paths of its variables, for every layer of a Keras 3 model config
 * (nested models included, keyed by their inner layers' names).
 */
export function keras3ObjectPaths(modelConfig: unknown): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const visitModel = (cls: string, cfg: Obj, prefix: string) => {
    let list = Array.isArray(cfg.layers) ? (cfg.layers as unknown[]).filter(isObj) : [];
    // Sequential.layers leaves out its InputLayer; Functional.layers keeps them.
    if (cls === "Sequential") list = list.filter((l) => l.class_name !== "InputLayer");
    const used = new Map<string, number>();
    for (const layer of list) {
      const lcls = String(layer.class_name);
      const lcfg = isObj(layer.config) ? layer.config : {};
      const base = kerasSnakeCase(lcls);
      const n = used.get(base);
      used.set(base, n === undefined ? 0 : n + 1);
      const at = `${prefix}/${n === undefined ? base : `${base}_${n + 1}`}`;
      if (MODEL_CLASSES.has(lcls)) visitModel(lcls, lcfg, `${at}/layers`);
      else out.set(String(lcfg.name ?? layer.name), varPaths(lcls, lcfg, at));
    }
  };
  if (isObj(modelConfig) && isObj(modelConfig.config)) visitModel(String(modelConfig.class_name), modelConfig.config, "layers");
  return out;
}

/** A Keras 3 weights file's variables keyed by the config's layer names. */
export function readKeras3Weights(root: H5File, file: string, modelConfig: unknown): LayerWeights {
  const groups = readKeras3VarGroups(root, file);
  const out: LayerWeights = new Map();
  const claimed = new Set<string>();
  for (const [layer, paths] of keras3ObjectPaths(modelConfig)) {
    const found = paths.filter((p) => groups.has(p));
    if (found.length === 0) continue;
    found.forEach((p) => claimed.add(p));
    out.set(layer, found.flatMap((p) => groups.get(p)!));
  }
  // Variables at no path the config implies: reported by assignWeights as weights of unknown layers.
  for (const [p, ws] of groups) if (!claimed.has(p) && ws.length) out.set(p, ws);
  return out;
}
