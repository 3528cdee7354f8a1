/**
 * Keras 2 HDF5 sources: a full model (`model.save("m.h5")`: root attrs model_config and
 * training_config, group model_weights) and the architecture JSON + `save_weights` h5 pair.
 */
import { readFile } from "node:fs/promises";
import type { LayersModel } from "../tfjs.js";
import { buildKerasModel, type KerasModelParts } from "./build.js";
import type { ConvertContext } from "./config.js";
import { KerasModelError } from "./errors.js";
import { type H5File, attr, hdf5Reason, openH5, readKeras2Weights, stringAttr } from "./h5.js";
import type { LayerWeights } from "./weights-map.js";
import { readKeras3Weights } from "./keras3-weights.js";

export interface KerasLoadOptions {
  /** Layer classes registered through custom_objects. */
  customClasses?: Iterable<string>;
  ignoreTrainingConfig?: boolean;
  /** Custom losses / metrics from custom_objects. */
  customFunctions?: KerasModelParts["customFunctions"];
}

const ctxFor = (file: string, options: KerasLoadOptions): ConvertContext => ({ file, custom: new Set(options.customClasses ?? []) });

function parseJson(file: string, what: string, text: string | undefined): unknown {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new KerasModelError(file, `${what} is not valid JSON (${(err as Error).message})`);
  }
}

async function withH5<T>(file: string, what: string, use: (f: H5File) => T | Promise<T>): Promise<T> {
  const f = await openH5(file, what);
  try {
    return await use(f);
  } catch (err) {
    if (err instanceof KerasModelError) throw err;
    // libhdf5 fails lazily on damaged files, and h5wasm then throws plain strings.
    throw new KerasModelError(file, `HDF5 content cannot be read, truncated or corrupt? (${hdf5Reason(err instanceof Error ? err.message : String(err))})`);
  } finally {
    f.close();
  }
}

export async function loadKerasH5(file: string, options: KerasLoadOptions = {}): Promise<LayersModel> {
  const { modelConfig, trainingConfig, weights, kerasVersion } = await withH5(file, "a Keras HDF5 model (model.save(...h5))", (f) => {
    const modelConfig = parseJson(file, "attribute model_config", stringAttr(f, "model_config"));
    if (modelConfig === undefined) {
      const hint = f.attrs.layer_names !== undefined ? "it holds weights only (save_weights layout): use model_architecture + model_weights" : "no model_config attribute";
      throw new KerasModelError(file, `not a Keras full-model HDF5 file (${hint})`);
    }
    const group = f.get("model_weights");
    const weights: LayerWeights | undefined = group ? readKeras2Weights(group as Parameters<typeof readKeras2Weights>[0], file) : undefined;
    return { modelConfig, trainingConfig: parseJson(file, "attribute training_config", stringAttr(f, "training_config")), weights, kerasVersion: stringAttr(f, "keras_version") };
  });
  return buildKerasModel({ modelConfig, trainingConfig, weights, kerasVersion, ignoreTrainingConfig: options.ignoreTrainingConfig, customFunctions: options.customFunctions }, ctxFor(file, options));
}

/**
 * Weights of a `save_weights` h5: Keras 2's layout (attr layer_names, also the model_weights
 * group of a full model) or Keras 3's `.weights.h5` (object paths, mapped through `modelConfig`).
 */
export async function readKerasWeightsH5(file: string, modelConfig?: unknown): Promise<LayerWeights> {
  return withH5(file, "Keras weights (model.save_weights(...h5))", (f) => {
    const group = f.get("model_weights");
    if (!group && attr(f, "layer_names") === undefined && attr(f, "layer_names0") === undefined && f.get("layers")) {
      if (modelConfig === undefined) throw new KerasModelError(file, "a Keras 3 weights file (.weights.h5) needs the model's architecture (model_architecture) to map its variables");
      return readKeras3Weights(f, file, modelConfig);
    }
    return readKeras2Weights((group ?? f) as Parameters<typeof readKeras2Weights>[0], file);
  });
}

/** `model.to_json()` file + `save_weights` h5. The JSON may also be a whole model_config object with training_config beside it. */
export async function loadKerasArchitectureAndWeights(architectureFile: string, weightsFile: string | undefined, options: KerasLoadOptions = {}): Promise<LayersModel> {
  let text: string;
  try {
    text = await readFile(architectureFile, "utf8");
  } catch (err) {
    throw new KerasModelError(architectureFile, `cannot read the architecture (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  const json = parseJson(architectureFile, "the architecture file", text) as Record<string, unknown> | null;
  if (typeof json !== "object" || json === null) throw new KerasModelError(architectureFile, "expected a Keras model JSON object (model.to_json())");
  const modelConfig = "model_config" in json ? json.model_config : json;
  const trainingConfig = "training_config" in json ? json.training_config : undefined;
  const weights = weightsFile ? await readKerasWeightsH5(weightsFile, modelConfig) : undefined;
  const kerasVersion = typeof json.keras_version === "string" ? json.keras_version : undefined;
  return buildKerasModel({ modelConfig, trainingConfig, weights, kerasVersion, ignoreTrainingConfig: options.ignoreTrainingConfig, customFunctions: options.customFunctions }, ctxFor(architectureFile, options));
}
