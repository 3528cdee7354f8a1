/**
 * Builds the tfjs-layers model from a converted topology, loads the stored weights and
 * compiles it from the training configuration the file carries (spec options may override it
 * later). Shared by the HDF5, Keras 3 and SavedModel loaders.
 */
import { type CompileOptions, compileFromOptions, makeOptimizer, setKerasGeneration } from "../compile.js";
import { kerasGeneration } from "../optimizers/keras.js";
import { tf, tfl, type LayersModel } from "../tfjs.js";
import { type ConvertContext, kerasToTfjsTopology } from "./config.js";
import { KerasModelError } from "./errors.js";
import { compileOptionsFromKeras } from "./training-config.js";
import { assignWeights, type LayerWeights } from "./weights-map.js";

export interface KerasModelParts {
  /** Keras `{class_name, config}` of the model. */
  modelConfig: unknown;
  weights?: LayerWeights;
  /** Keras training_config / compile_config, when saved. */
  trainingConfig?: unknown;
  /** The spec brings its own compile options: the file's training config is not used. */
  ignoreTrainingConfig?: boolean;
  /** The file's `keras_version`: picks Keras 2's or Keras 3's optimizer defaults and rules. */
  kerasVersion?: string;
  /** Custom losses / metrics from custom_objects, by Keras name. */
  customFunctions?: Map<string, (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Tensor>;
}

/** compileFromOptions, except that names registered through custom_objects resolve to the user's functions. */
export function compileWithCustom(model: LayersModel, options: CompileOptions, custom?: KerasModelParts["customFunctions"]): void {
  const loss = custom?.get(options.loss);
  const customMetrics = (options.metrics ?? []).filter((m) => custom?.has(m));
  if (!loss && customMetrics.length === 0) {
    compileFromOptions(model, options);
    return;
  }
  compileFromOptions(model, { ...options, loss: loss ? "mse" : options.loss, metrics: (options.metrics ?? []).filter((m) => !custom?.has(m)) });
  const compiled = model as unknown as { loss: unknown; metrics: unknown };
  model.compile({
    optimizer: model.optimizer ?? makeOptimizer(options.optimizer, options.lr, options),
    loss: loss ?? (compiled.loss as string),
    metrics: [...((compiled.metrics as unknown[] | undefined) ?? []), ...customMetrics.map((m) => custom!.get(m)!)] as never,
  });
}

export async function buildKerasModel(parts: KerasModelParts, ctx: ConvertContext): Promise<LayersModel> {
  const topology = kerasToTfjsTopology(parts.modelConfig, ctx);
  let model: LayersModel;
  try {
    model = await tfl.models.modelFromJSON({ modelTopology: topology } as never);
  } catch (err) {
    throw new KerasModelError(ctx.file, `the Keras architecture cannot be built in TensorFlow.js (${(err as Error).message})`);
  }
  if (parts.weights) assignWeights(model, parts.weights, ctx.file);
  compileFromTrainingConfig(model, parts.trainingConfig, parts.kerasVersion, { ignoreTrainingConfig: parts.ignoreTrainingConfig, customFunctions: parts.customFunctions }, ctx.file);
  return model;
}

/**
 * Marks the model with the file's Keras generation and compiles it from the saved training
 * config, when there is one and the spec does not bring its own. Also used for interpreted
 * SavedModel graphs (a subclassed tf.keras 2.x model's root metadata).
 */
export function compileFromTrainingConfig(
  model: LayersModel,
  trainingConfig: unknown,
  kerasVersion: string | undefined,
  options: Pick<KerasModelParts, "ignoreTrainingConfig" | "customFunctions">,
  file: string,
): void {
  setKerasGeneration(model, kerasGeneration(kerasVersion));
  const compile: CompileOptions | undefined = options.ignoreTrainingConfig ? undefined : compileOptionsFromKeras(trainingConfig);
  if (!compile) return;
  try {
    compileWithCustom(model, compile, options.customFunctions);
  } catch (err) {
    throw new KerasModelError(file, `training_config: ${(err as Error).message}; set compile_model_options in the spec instead`);
  }
}
