import type { WeightSet } from "@cohort/tensors";
import { saveLayersModelToDir } from "./model-files.js";
import { tfl } from "./tfjs.js";
// Registers SavedModelGraph, so the topology of an interpreted SavedModel deserialises.
import "./savedmodel/graph-layer.js";
import { setWeights } from "./weights.js";

/**
 * Writes weights as a TF.js layers model (model.json + weights.bin) given the topology JSON a
 * party sent. The topology is deserialised through tfjs-layers' registry of layer classes
 * (data only, never code); the rebuilt model takes the weights by Cohort's stable names and is
 * saved, so `tf.loadLayersModel` reads the result back. Returns the files written.
 */
export async function saveWeightsAsLayersModel(dir: string, topology: string, weights: WeightSet): Promise<string[]> {
  const modelTopology = JSON.parse(topology) as Record<string, unknown>;
  const model = await tfl.models.modelFromJSON({ modelTopology } as never);
  setWeights(model, weights);
  const file = await saveLayersModelToDir(model, dir);
  model.dispose();
  return [file, file.replace(/model\.json$/, "weights.bin")];
}
