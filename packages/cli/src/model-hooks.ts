import type { ModelHooks } from "./commands/aggregator.js";
import { getWeights, loadModelFromSpec, saveWeightsAsLayersModel, selectBackend } from "@cohort/models";
import { packWeights, unpackWeights } from "@cohort/tensors";

/**
 * TF.js-backed hooks of the aggregator: the initial model from its config's `model` section,
 * and the export of the final global model as a TF.js layers model.
 */
export function aggregatorModelHooks(): ModelHooks {
  return {
    async initialModel(config, log) {
      if (!config.model) return undefined;
      await selectBackend("auto");
      const model = await loadModelFromSpec(config.model);
      const weights = getWeights(model);
      log.info({ phase: "model", name: config.model.name, tensors: weights.length }, "initial global model loaded from the config");
      return { manifest: { tensors: weights.map(({ name, dtype, shape }) => ({ name, dtype, shape })) }, bytes: packWeights(weights), topology: JSON.stringify(model.toJSON(undefined, false)) };
    },
    async exportModel(dir, manifest, bytes, topology) {
      if (!topology) return [];
      await selectBackend("auto");
      return saveWeightsAsLayersModel(dir, topology, unpackWeights(manifest, bytes));
    },
  };
}
