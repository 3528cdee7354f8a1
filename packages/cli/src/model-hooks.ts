import { existsSync } from "node:fs";
import { rm } from "node:fs/promises";
import path from "node:path";
import type { ModelSection } from "@cohort/config";
import type { Logger } from "@cohort/telemetry";
import type { ModelHooks } from "./commands/aggregator.js";
import { globalEvaluator } from "./global-evaluation.js";
import {
  type LayersModel, type ShapeHint, compareOnnxWithTfjs, detectKerasFormat, getWeights, loadLayersModelFromFile, loadModelFromSpec, saveKeras3Archive, saveKerasH5,
  saveOnnx, saveSavedModel, saveTorchStateDict, saveWeightsAsLayersModel, selectBackend, setWeights,
} from "@cohort/models";
import { type WeightSet, packWeights, unpackWeights } from "@cohort/tensors";

/**
 * Largest max|onnx - tfjs| / max|tfjs| accepted for the exported model.onnx. Measured errors are
 * ~1e-7 (float32 sums in another order); the margin covers the wasm backend's kernels, and a
 * real conversion bug is far larger than this.
 */
export const ONNX_VERIFY_TOLERANCE = 1e-4;

export interface AggregatorModelHooksOptions {
  /** The config's `model` section; by default the one initialModel sees, so the CLI needs no extra plumbing. */
  model?: ModelSection;
  /** Where export warnings go; by default the aggregator's logger passed to initialModel. */
  log?: Logger;
}

/**
 * TF.js-backed hooks of the aggregator: the initial model from its config's `model` section,
 * and the export of the final global model as TF.js layers (model.json + weights.bin, a failure
 * fails the export), ONNX (verified in onnxruntime-node), and the spec's source format (Keras
 * HDF5 -> model.h5, Keras 3 .keras -> model.keras, PyTorch -> model.pt state_dict, SavedModel -> saved_model/
 * with the trained variables). The extra formats are best effort: an
 * unsupported layer or a mismatch is a warning and the file is left out, never a failed run.
 */
export function aggregatorModelHooks(options: AggregatorModelHooksOptions = {}): ModelHooks {
  let section = options.model;
  let log = options.log;
  return {
    async initialModel(config, logger) {
      section ??= config.model;
      log ??= logger;
      if (!config.model) return undefined;
      await selectBackend("auto");
      let model: LayersModel;
      try {
        model = await loadModelFromSpec({ ...config.model, configFile: config.file });
      } catch (error) {
        // The aggregator holds no data: a model file without an input shape needs it in the spec.
        if (error instanceof Error && /input shape/.test(error.message)) {
          throw new Error(`aggregator's model: ${error.message} (the aggregator has no data to take the input shape from: give input_shape in its model spec, or leave its model out and let the first party's model start the federation)`);
        }
        throw error;
      }
      const weights = getWeights(model);
      logger.info({ phase: "model", name: config.model.name, tensors: weights.length }, "initial global model loaded from the config");
      return { manifest: { tensors: weights.map(({ name, dtype, shape }) => ({ name, dtype, shape })) }, bytes: packWeights(weights), topology: JSON.stringify(model.toJSON(undefined, false)) };
    },
    evaluateGlobal: (config, logger) => globalEvaluator(config, logger),
    async exportModel(dir, manifest, bytes, topology) {
      if (!topology) return [];
      await selectBackend("auto");
      const weights = unpackWeights(manifest, bytes);
      const files = await saveWeightsAsLayersModel(dir, topology, weights);
      const onnx = await exportOnnx(files[0]!, path.join(dir, "model.onnx"), log);
      const source = section ? await exportSourceFormat(section, dir, weights, log, topologyInputShape(topology)) : undefined;
      return [...files, ...(onnx ? [onnx] : []), ...(source ? [source] : [])];
    },
  };
}

/** Best effort: `fn` or undefined, with the reason logged and any partial file removed. */
async function bestEffort(file: string, format: string, log: Logger | undefined, fn: () => Promise<string | undefined>): Promise<string | undefined> {
  try {
    return await fn();
  } catch (error) {
    log?.warn({ phase: "export", format, file, reason: (error as Error).message }, `final model not exported as ${format}`);
    await rm(file, { force: true, recursive: true });
    return undefined;
  }
}

/** model.onnx from the written model.json, kept only if onnxruntime predicts what TF.js predicts. */
async function exportOnnx(modelJson: string, file: string, log: Logger | undefined): Promise<string | undefined> {
  return bestEffort(file, "onnx", log, async () => {
    const model = await loadLayersModelFromFile(modelJson);
    try {
      await saveOnnx(model, file);
      const check = await compareOnnxWithTfjs(model, file);
      if (!(check.maxRelError <= ONNX_VERIFY_TOLERANCE)) {
        throw new Error(`onnxruntime's predictions differ from TF.js (max rel error ${check.maxRelError.toExponential(2)} > ${ONNX_VERIFY_TOLERANCE})`);
      }
      log?.info({ phase: "export", format: "onnx", file, max_rel_error: check.maxRelError }, "final model exported as ONNX and verified in onnxruntime");
      return file;
    } finally {
      model.dispose();
    }
  });
}

/**
 * The per-example input shape of the model the parties trained, from the TF.js topology they sent
 * (its input layer's batch_input_shape): the shape to rebuild the source model with for export.
 */
export function topologyInputShape(topology: string): ShapeHint | undefined {
  try {
    const layers = (JSON.parse(topology) as { config?: { layers?: { class_name?: string; config?: { batch_input_shape?: unknown } }[] } }).config?.layers ?? [];
    const shape = layers.find((l) => l.class_name === "InputLayer")?.config?.batch_input_shape;
    if (!Array.isArray(shape) || !shape.slice(1).every((d) => Number.isInteger(d) && d > 0)) return undefined;
    return { shape: shape.slice(1) as number[], from: "the parties' model topology" };
  } catch {
    return undefined;
  }
}

/** Which source format the section came from: "h5" (Keras HDF5 or architecture + h5 weights), "keras" (Keras 3 archive), "pt", "savedmodel" (a SavedModel directory), or none. */
export function sourceFormat(section: ModelSection): "h5" | "keras" | "pt" | "savedmodel" | undefined {
  if (section.name === "PytorchFLModel") return "pt";
  if (section.name !== "KerasFLModel" && section.name !== "TensorFlowFLModel") return undefined;
  const def = section.spec.model_definition;
  if (typeof def === "string") {
    const file = path.resolve(section.specBaseDir, def);
    const found = existsSync(file) ? detectKerasFormat(file) : undefined;
    return found === "hdf5" ? "h5" : found === "keras3" ? "keras" : found === "savedmodel" ? "savedmodel" : undefined;
  }
  return typeof section.spec.model_architecture === "string" ? "h5" : undefined;
}

/**
 * The spec's model rebuilt from its own files (so the writer sees its Keras classes and training
 * config, or PyTorch's state_dict keys) with the final weights, written in that format.
 */
async function exportSourceFormat(section: ModelSection, dir: string, weights: WeightSet, log: Logger | undefined, inputShape?: ShapeHint): Promise<string | undefined> {
  const format = (() => { try { return sourceFormat(section); } catch { return undefined; } })();
  if (!format) return undefined;
  const file = path.join(dir, format === "savedmodel" ? "saved_model" : `model.${format}`);
  const label = { h5: "keras-h5", keras: "keras3", pt: "pytorch-state-dict", savedmodel: "savedmodel" }[format];
  return bestEffort(file, label, log, async () => {
    const model: LayersModel = await loadModelFromSpec(section, { inputShape });
    try {
      setWeights(model, weights);
      if (format === "h5") await saveKerasH5(model, file);
      else if (format === "keras") await saveKeras3Archive(model, path.resolve(section.specBaseDir, String(section.spec.model_definition)), file);
      else if (format === "savedmodel") await saveSavedModel(model, path.resolve(section.specBaseDir, String(section.spec.model_definition)), file);
      else saveTorchStateDict(model, file, weights);
      log?.info({ phase: "export", format, file }, `final model exported in its source format (${format})`);
      return file;
    } finally {
      model.dispose();
    }
  });
}
