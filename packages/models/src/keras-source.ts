/**
 * The KerasFLModel and TensorFlowFLModel model sources (IBM FL's names): a spec with
 * `model_definition` (Keras HDF5 full model, Keras 3 `.keras`, or a tf.keras SavedModel
 * directory) or `model_architecture` (model.to_json()) + `model_weights` (save_weights h5, Keras 2
 * layout or Keras 3 `.weights.h5`),
 * plus `custom_objects` and compile options. The format is taken from the file's content and
 * must agree with its extension, so a renamed file is reported instead of misread.
 */
import path from "node:path";
import { statSync } from "node:fs";
import { KerasModelError } from "./keras/errors.js";
import { HDF5_SIGNATURE, fileHead } from "./keras/h5.js";
import { type KerasLoadOptions, loadKerasArchitectureAndWeights, loadKerasH5 } from "./keras/h5-model.js";
import { loadKeras3 } from "./keras/keras3.js";
import { loadCustomObjects } from "./keras/custom-objects.js";
import { loadKerasSavedModel } from "./savedmodel/keras-savedmodel.js";
import type { LayersModel } from "./tfjs.js";
import type { KerasModelParts } from "./keras/build.js";

/** The custom losses / metrics of the spec each model came from, for compiling it from compile_model_options. */
const customFunctionsOf = new WeakMap<LayersModel, NonNullable<KerasModelParts["customFunctions"]>>();
export function customFunctions(model: LayersModel): KerasModelParts["customFunctions"] {
  return customFunctionsOf.get(model);
}

export const KERAS_SPEC_KEYS = [
  "model_name", "model_definition", "model_architecture", "model_weights", "custom_objects", "compile_model_options", "compiled_options",
] as const;

export type KerasFormat = "hdf5" | "keras3" | "savedmodel" | "json";

const SUPPORTED = "Keras HDF5 (.h5/.hdf5), Keras 3 (.keras), a tf.keras SavedModel directory, or model JSON + weights h5";

/** What a path holds, by content; throws when the extension claims another format. */
export function detectKerasFormat(file: string): KerasFormat {
  let isDir: boolean;
  try {
    isDir = statSync(file).isDirectory();
  } catch (err) {
    throw new KerasModelError(file, `cannot read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  if (isDir) return "savedmodel";
  const head = fileHead(file, 8);
  const ext = path.extname(file).toLowerCase();
  const found: KerasFormat | undefined = head.equals(HDF5_SIGNATURE)
    ? "hdf5"
    : head[0] === 0x50 && head[1] === 0x4b && head[2] === 0x03 && head[3] === 0x04
      ? "keras3"
      : head.toString("utf8").trimStart().startsWith("{") ? "json" : undefined;
  const describe = { hdf5: "an HDF5 file", keras3: "a zip archive", json: "JSON text", savedmodel: "a directory" };
  const claimed: KerasFormat | undefined = ext === ".h5" || ext === ".hdf5" ? "hdf5" : ext === ".keras" ? "keras3" : ext === ".json" ? "json" : undefined;
  if (!found) {
    throw new KerasModelError(file, `${head.length === 0 ? "empty file" : "unrecognised content"}${claimed ? ` (named ${ext} but not ${describe[claimed]})` : ""}; supported: ${SUPPORTED}`);
  }
  if (claimed && claimed !== found) throw new KerasModelError(file, `named ${ext} but the content is ${describe[found]}; supported: ${SUPPORTED}`);
  return found;
}

/** Loads any Keras/TensorFlow model file or directory Cohort reads. */
export async function loadKerasModel(file: string, options: KerasLoadOptions = {}): Promise<LayersModel> {
  switch (detectKerasFormat(file)) {
    case "hdf5":
      return loadKerasH5(file, options);
    case "keras3":
      return loadKeras3(file, options);
    case "savedmodel":
      return loadKerasSavedModel(file, options);
    case "json":
      return loadKerasArchitectureAndWeights(file, undefined, options);
  }
}

/** The SOURCES entry body: `spec` keys as in the IBM FL guide; relative paths against `baseDir`. */
export async function loadKerasFromSpec(spec: Record<string, unknown>, resolveFile: (key: string) => string, baseDir: string, where = "model.spec"): Promise<LayersModel> {
  const custom = await loadCustomObjects(spec.custom_objects, baseDir, where);
  const options: KerasLoadOptions & { customFunctions: typeof custom.functions } = {
    customClasses: custom.layerClasses,
    customFunctions: custom.functions,
    ignoreTrainingConfig: spec.compile_model_options !== undefined || spec.compiled_options !== undefined,
  };
  const remember = (model: LayersModel) => { if (custom.functions.size) customFunctionsOf.set(model, custom.functions); return model; };
  if (spec.model_definition !== undefined) return remember(await loadKerasModel(resolveFile("model_definition"), options));
  if (spec.model_architecture !== undefined) {
    const arch = resolveFile("model_architecture");
    const weights = spec.model_weights !== undefined ? resolveFile("model_weights") : undefined;
    if (weights) detectKerasFormat(weights);
    return remember(await loadKerasArchitectureAndWeights(arch, weights, options));
  }
  throw new KerasModelError(where, "the spec needs model_definition (h5, .keras or SavedModel dir) or model_architecture (+ model_weights)");
}
