/**
 * Weights read from a Keras file, keyed by layer name. Keras 2 files name each weight
 * (`conv1/kernel:0`), Keras 3 files only number them (`vars/0`), so `name` is optional and the
 * assignment falls back to order, which is the same in Keras and tfjs-layers for every built-in
 * layer (kernel, bias; gamma, beta, moving_mean, moving_variance).
 */
import { KerasModelError } from "./errors.js";
import { tf, type LayersModel } from "../tfjs.js";

export interface StoredWeight {
  /** Short Keras name ("kernel", "moving_mean"), when the file stores one. */
  name?: string;
  shape: number[];
  data: Float32Array;
  /**
   * The groups the weight sits under in a Keras 2 layout file (`["bidirectional", "forward_lstm",
   * "lstm_cell"]`): which of them is the model's layer is only known once the model is built.
   */
  path?: string[];
}

export type LayerWeights = Map<string, StoredWeight[]>;

type Layer = LayersModel["layers"][number];

/** Leaf layers of a model, descending into nested Sequential/Functional models. */
export function leafLayers(model: { layers: Layer[] }): Layer[] {
  return model.layers.flatMap((layer) => ((layer as unknown as { layers?: Layer[] }).layers ? leafLayers(layer as unknown as { layers: Layer[] }) : [layer]));
}

/** "model/conv1/kernel:0" -> { layer: "conv1", name: "kernel" } */
export function splitWeightName(full: string): { layer: string; name: string } {
  const parts = full.split("/");
  const name = (parts.pop() ?? full).replace(/:\d+$/, "");
  return { layer: parts.pop() ?? "", name };
}

const ALIASES: Record<string, string> = { depthwise_kernel: "kernel", pointwise_kernel: "kernel" };
const shortName = (s: string) => s.replace(/:\d+$/, "").split("/").pop() ?? s;

/**
 * Re-keys weights by the model's own layer names: the last group on a weight's path that names a
 * leaf layer. Keras 3's legacy h5 writer and tf.keras put an RNN's weights under its cell
 * (`lstm/lstm_cell/kernel`) and a nested model's under `outer/inner_model/dense/kernel`, so the
 * second-last segment is not always the layer. Weights without a path keep their key.
 */
export function regroupByLayer(stored: LayerWeights, layerNames: Set<string>): LayerWeights {
  if (![...stored.values()].some((ws) => ws.some((w) => w.path))) return stored;
  const out: LayerWeights = new Map();
  for (const [key, ws] of stored) {
    for (const w of ws) {
      const owner = w.path ? [...w.path].reverse().find((p) => layerNames.has(p)) ?? key : key;
      const list = out.get(owner) ?? [];
      list.push(w);
      out.set(owner, list);
    }
  }
  return out;
}

/** Sets every weight of the model from `stored`; any missing, extra or misshapen weight is an error naming the layer. */
export function assignWeights(model: LayersModel, stored: LayerWeights, file: string): void {
  const used = new Set<string>();
  const values: tf.Tensor[] = [];
  const vars: LayersModel["weights"] = [];
  const leaves = leafLayers(model);
  stored = regroupByLayer(stored, new Set(leaves.map((l) => l.name)));
  for (const layer of leaves) {
    const targets = layer.weights;
    if (targets.length === 0) continue;
    const found = stored.get(layer.name);
    if (!found) throw new KerasModelError(file, `no weights stored for layer "${layer.name}" (${layer.getClassName()}); the file holds weights for: ${[...stored.keys()].join(", ") || "no layer"}`);
    if (found.length !== targets.length) {
      throw new KerasModelError(file, `layer "${layer.name}" (${layer.getClassName()}) has ${targets.length} weights but the file stores ${found.length}`);
    }
    used.add(layer.name);
    // Names pick the weight only when they are unique: a Bidirectional holds two "kernel"s (forward first, as in tfjs).
    const byName = found.every((w) => w.name !== undefined) && new Set(found.map((w) => w.name)).size === found.length;
    targets.forEach((target, k) => {
      const want = shortName(target.originalName);
      const source = byName ? found.find((w) => w.name === want || ALIASES[w.name!] === ALIASES[want] && ALIASES[want] !== undefined) ?? found[k] : found[k];
      if (source.shape.join(",") !== target.shape.join(",")) {
        throw new KerasModelError(file, `layer "${layer.name}" weight ${want}: file shape [${source.shape}] but the model needs [${target.shape}]`);
      }
      values.push(tf.tensor(source.data, source.shape, "float32"));
      vars.push(target);
    });
  }
  const extra = [...stored.entries()].filter(([name, ws]) => ws.length > 0 && !used.has(name)).map(([name]) => name);
  if (extra.length) throw new KerasModelError(file, `weights stored for layers the architecture does not have: ${extra.join(", ")}`);
  vars.forEach((v, i) => v.write(values[i]));
  values.forEach((t) => t.dispose());
}
