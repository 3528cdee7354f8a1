import { existsSync } from "node:fs";
import path from "node:path";
import type { CompileOptions } from "./compile.js";
import { compileWithCustom } from "./keras/build.js";
import { loadLayersModelFromFile } from "./model-files.js";
import { loadModelFromModule } from "./module-source.js";
import { KERAS_SPEC_KEYS, customFunctions, loadKerasFromSpec } from "./keras-source.js";
import { PYTORCH_SPEC_KEYS, loadPytorchFromSpec } from "./pytorch/source.js";
import { ONNX_SPEC_KEYS, loadOnnxFromSpec } from "./onnx/source.js";
import type { ShapeHint } from "./pytorch/input-shape.js";
import type { LayersModel } from "./tfjs.js";

/** A config's `model` section, as @cohort/config normalises it. */
export interface ModelSpecSection {
  name: string;
  spec: Record<string, unknown>;
  specBaseDir: string;
  specFile?: string;
  /** The config file the section came from (for messages about an inline spec's keys). */
  configFile?: string;
}

export class ModelSpecError extends Error {
  readonly code = "MODEL_SPEC_INVALID";
  constructor(readonly where: string, message: string) {
    super(`${where}: ${message}`);
    this.name = "ModelSpecError";
  }
}

interface ModelSource {
  /** Spec keys this source reads (IBM FL's names). */
  keys: readonly string[];
  load(spec: Record<string, unknown>, resolveFile: (key: string) => string, baseDir: string, where: string, hints: ModelHints): Promise<LayersModel>;
}

/**
 * What the caller knows about the model's use, for formats whose files leave it open. Models
 * never read data themselves: the party passes its data's shape, `cohort model predict` its
 * input file's, and so on. Only PyTorch reads it today (an nn.Sequential has no input shape).
 */
export interface ModelHints {
  /** Per-example input shape and where it came from (`party.yml: data (x per example)`). */
  inputShape?: ShapeHint;
}

/**
 * Model sources by the `model.name` of a config. TfjsModel reads a TF.js layers `model.json`;
 * TfjsModuleModel calls the factory exported by a JS module (the counterpart of IBM FL's
 * `generate_model_spec` scripts). Keras, TensorFlow, PyTorch and ONNX files come as further
 * sources here.
 */
const SOURCES: Record<string, ModelSource> = {
  TfjsModel: {
    keys: ["model_name", "model_definition", "compile_model_options", "compiled_options"],
    load: async (spec, file) => loadLayersModelFromFile(file("model_definition")),
  },
  TfjsModuleModel: {
    keys: ["model_name", "model_definition", "export", "compile_model_options", "compiled_options"],
    load: async (spec, file) => loadModelFromModule(file("model_definition"), typeof spec.export === "string" ? spec.export : undefined),
  },
  KerasFLModel: { keys: KERAS_SPEC_KEYS, load: loadKerasFromSpec },
  TensorFlowFLModel: { keys: KERAS_SPEC_KEYS, load: loadKerasFromSpec },
  PytorchFLModel: { keys: PYTORCH_SPEC_KEYS, load: (spec, file, _dir, _where, hints) => loadPytorchFromSpec(spec, file, hints) },
  OnnxModel: { keys: ONNX_SPEC_KEYS, load: loadOnnxFromSpec },
};

export function knownModelSources(): string[] {
  return Object.keys(SOURCES);
}

/**
 * Builds the trainable, compiled model a config's `model` section describes. With
 * `inferenceOnly` (the CLI's `cohort model inspect/predict`) training settings may be absent:
 * a model that comes without them is returned uncompiled. `inputShape` is the shape hint (see
 * ModelHints); the spec's own `input_shape` wins over it.
 */
export async function loadModelFromSpec(section: ModelSpecSection, load: { inferenceOnly?: boolean } & ModelHints = {}): Promise<LayersModel> {
  const where = section.specFile ?? "model.spec";
  const source = SOURCES[section.name];
  if (!source) throw new ModelSpecError("model.name", `unknown model source "${section.name}"; supported: ${knownModelSources().join(", ")}`);
  const unknown = Object.keys(section.spec).filter((k) => !source.keys.includes(k));
  if (unknown.length) throw new ModelSpecError(where, `unknown key${unknown.length > 1 ? "s" : ""} ${unknown.join(", ")} for ${section.name}; supported: ${source.keys.join(", ")}`);
  const resolveFile = (key: string) => {
    const value = section.spec[key];
    if (typeof value !== "string" || value === "") throw new ModelSpecError(`${where}: ${key}`, `expected a file path for ${section.name}`);
    const file = path.resolve(section.specBaseDir, value);
    // Named by its key (model.spec.model_definition), not only its path: the key is what the user edits.
    if (!existsSync(file)) {
      const keyWhere = section.specFile ? `${section.specFile}: ${key}` : `${section.configFile ? `${section.configFile}: ` : ""}model.spec.${key}`;
      throw new ModelSpecError(keyWhere, `file not found: ${file}${path.isAbsolute(value) ? "" : ` (relative paths resolve against ${section.specBaseDir})`}`);
    }
    return file;
  };
  // PyTorch-style sources compile inside load and need a loss; for inference any loss will do.
  const spec = load.inferenceOnly && source.keys.includes("loss_criterion") ? { loss_criterion: "nn.MSELoss", ...section.spec } : section.spec;
  const model = await source.load(spec, resolveFile, section.specBaseDir, where, { inputShape: load.inputShape });
  const options = (section.spec.compile_model_options ?? section.spec.compiled_options) as Partial<CompileOptions> | undefined;
  if (options) {
    if (typeof options.loss !== "string" || typeof options.optimizer !== "string") {
      throw new ModelSpecError(`${where}: compile_model_options`, "expected {optimizer: name, loss: name, metrics?: [names], lr?: number}");
    }
    // Loss and metric names may be the spec's custom_objects functions (Keras sources).
    try {
      compileWithCustom(model, options as CompileOptions, customFunctions(model));
    } catch (err) {
      throw new ModelSpecError(`${where}: compile_model_options`, (err as Error).message);
    }
  }
  if (!load.inferenceOnly && !(model as unknown as { optimizer?: unknown }).optimizer) {
    throw new ModelSpecError(where, `the ${section.name} model is not compiled; add compile_model_options: {optimizer, loss, metrics}`);
  }
  return model;
}
