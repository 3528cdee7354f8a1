/**
 * A layers model's weights as a Cohort WeightSet, under names that are the same for the same
 * architecture in every process.
 *
 * tfjs names a variable after its layer, and layer names carry a process-wide counter
 * ("dense_Dense1/kernel", then "dense_Dense2/kernel" when the same model is built again), so
 * raw names differ between two parties, or between two builds in one party. Cohort's tensor
 * name is instead `<layer index, 3 digits>.<layer class>/<weight>`, e.g. "000.Conv2D/kernel",
 * "005.Dense/bias": the layer's position in `model.layers`, its class, and the last segment of
 * the variable's original name (prefixed by its position within the layer if that segment
 * repeats in the layer). The order is `model.weights` (trainable, then non-trainable), which is
 * what `model.getWeights()` and `model.setWeights()` use. A layer with `stableWeightNames()`
 * (an interpreted SavedModel graph) gives its weights' last part itself, e.g.
 * "001.SavedModelGraph/conv1/_kernel".
 */
import { type DType, type Manifest, type NamedTensor, type WeightSet, diffManifests, manifestOf } from "@cohort/tensors";
import { tf, type LayersModel } from "./tfjs.js";

type LayerVariable = LayersModel["weights"][number];

/** Cohort's stable tensor name for each variable of the model, keyed by variable id. */
function stableNames(model: LayersModel): Map<number, string> {
  const names = new Map<number, string>();
  model.layers.forEach((layer, index) => {
    const weights = layer.weights;
    // A layer that wraps a foreign graph (SavedModelGraph) names its weights itself: the
    // SavedModel's variable names, which are stable across processes too.
    const own = (layer as { stableWeightNames?: () => string[] }).stableWeightNames?.();
    if (own) {
      weights.forEach((w, k) => names.set(w.id, `${String(index).padStart(3, "0")}.${layer.getClassName()}/${own[k]}`));
      return;
    }
    const last = weights.map((w) => w.originalName.split("/").pop() ?? w.originalName);
    weights.forEach((w, k) => {
      const repeated = last.filter((s) => s === last[k]).length > 1;
      const short = repeated ? `${k}.${last[k]}` : last[k];
      names.set(w.id, `${String(index).padStart(3, "0")}.${layer.getClassName()}/${short}`);
    });
  });
  return names;
}

function nameOf(names: Map<number, string>, w: LayerVariable): string {
  const name = names.get(w.id);
  // A variable not owned by any layer of model.layers cannot occur in a built LayersModel.
  if (name === undefined) throw new Error(`weight ${w.originalName} belongs to no layer of the model`);
  return name;
}

function dtypeOf(w: LayerVariable): DType {
  if (w.dtype === "float32" || w.dtype === "int32" || w.dtype === "bool") return w.dtype;
  throw new Error(`weight ${w.originalName} has dtype ${w.dtype}, which Cohort does not transfer`);
}

export function modelManifest(model: LayersModel): Manifest {
  const names = stableNames(model);
  return { tensors: model.weights.map((w) => ({ name: nameOf(names, w), dtype: dtypeOf(w), shape: [...w.shape] as number[] })) };
}

/** Copies of the model's current weights (never views of backend memory, which training overwrites). */
export function getWeights(model: LayersModel): WeightSet {
  const names = stableNames(model);
  return model.weights.map((w): NamedTensor => {
    const dtype = dtypeOf(w);
    const values = w.read().dataSync();
    const data = dtype === "float32" ? Float32Array.from(values) : dtype === "int32" ? Int32Array.from(values) : Uint8Array.from(values);
    return { name: nameOf(names, w), dtype, shape: [...w.shape] as number[], data };
  });
}

/** Loads `weights` into the model after checking that names, dtypes, shapes and order match exactly. */
export function setWeights(model: LayersModel, weights: WeightSet): void {
  const differences = diffManifests(modelManifest(model), manifestOf(weights));
  if (differences.length > 0) {
    throw new Error(`weights do not fit model "${model.name}":\n  ${differences.join("\n  ")}`);
  }
  for (const t of weights) {
    if (t.data.length !== t.shape.reduce((a, b) => a * b, 1)) {
      throw new RangeError(`${t.name}: ${t.data.length} values for shape [${t.shape.join(",")}]`);
    }
  }
  tf.tidy(() => {
    const tensors = weights.map((t) => tf.tensor(t.data as Float32Array | Int32Array | Uint8Array, t.shape, t.dtype as tf.DataType));
    model.setWeights(tensors);
  });
}
