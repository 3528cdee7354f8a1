/**
 * The PytorchFLModel source: a `torch.save`d nn.Sequential (`model_definition`) -> a compiled,
 * trainable TF.js layers model with PyTorch's input/output semantics (NCHW in).
 */
import { readFileSync } from "node:fs";
import { isTorchTensor, loadTorchFile } from "./torch-file.js";
import { PyObject } from "./unpickler.js";
import { TorchModuleError, buildFromModules, flattenModules, type TorchKey } from "./modules.js";
import { InputShapeError, type Shape, type ShapeHint, type ShapeOrigin, resolveInputShape } from "./input-shape.js";
import { compileTorchStyle } from "./training.js";
import type { LayersModel } from "../tfjs.js";

export const PYTORCH_SPEC_KEYS = ["model_name", "model_definition", "optimizer", "loss_criterion", "learning_rate", "lr", "input_shape"] as const;

/** state_dict prefixes of models converted from PyTorch, for `saveTorchStateDict`. */
const torchKeysOf = new WeakMap<LayersModel, TorchKey[]>();
export function torchKeys(model: LayersModel): TorchKey[] | undefined {
  return torchKeysOf.get(model);
}

/** How the input shape of each model loaded here was decided (for logs and `cohort model inspect`). */
const shapeOrigins = new WeakMap<LayersModel, ShapeOrigin>();
export function inputShapeOrigin(model: LayersModel): ShapeOrigin | undefined {
  return shapeOrigins.get(model);
}

export interface TorchLoadOptions {
  /** The spec's `input_shape`: used as given. */
  inputShape?: Shape;
  /** A shape the caller knows (the party's data, predict's input); used when it fits. */
  hint?: ShapeHint;
  name?: string;
  /** A state_dict (`torch.load`ed map) whose tensors replace the module's own, key for key. */
  stateDict?: Map<string, unknown>;
}

/** Puts `stateDict`'s tensors into the modules; every tensor of the modules must be there, same shape. */
function applyStateDict(modules: [string, PyObject][], stateDict: Map<string, unknown>): void {
  for (const [prefix, m] of modules) {
    for (const group of ["_parameters", "_buffers"]) {
      const tensors = m.get(group);
      if (!(tensors instanceof Map)) continue;
      for (const [name, t] of tensors) {
        if (!isTorchTensor(t)) continue;
        const key = `${prefix}.${String(name)}`;
        const given = stateDict.get(key);
        if (!isTorchTensor(given)) throw new Error(`state_dict has no tensor ${key}`);
        if (given.shape.join(",") !== t.shape.join(",")) throw new Error(`state_dict ${key} has shape [${given.shape}], the module [${t.shape}]`);
        tensors.set(name, given);
      }
    }
  }
}

/** Reads the .pt file; errors name the file, the module and what is supported. */
export function loadTorchSequential(file: string, options: TorchLoadOptions = {}): LayersModel {
  let bytes: Uint8Array;
  try { bytes = new Uint8Array(readFileSync(file)); } catch (e) { throw new Error(`${file}: cannot read (${(e as Error).message})`); }
  const root = loadTorchFile(bytes, file);
  if (root instanceof Map) throw new Error(`${file}: holds a state_dict, not a whole module; save the nn.Sequential itself (torch.save(model, path))`);
  if (!(root instanceof PyObject) || !root.cls.endsWith(".Sequential")) {
    throw new Error(`${file}: holds ${root instanceof PyObject ? root.cls : typeof root}, not an nn.Sequential (the only module type that can be converted without running its Python code)`);
  }
  try {
    const modules = flattenModules(root);
    if (options.stateDict) applyStateDict(modules, options.stateDict);
    const { shape, origin } = resolveInputShape(modules, { spec: options.inputShape, hint: options.hint });
    const { model, torchKeys } = buildFromModules(modules, shape, options.name ?? "pytorch_sequential");
    torchKeysOf.set(model, torchKeys);
    shapeOrigins.set(model, origin);
    return model;
  } catch (e) {
    const message = `${file}: ${(e as Error).message}`;
    // Kept typed (with a code): a module or shape the user must change, not an internal fault.
    if (e instanceof InputShapeError) throw new InputShapeError(message, e.candidates);
    if (e instanceof TorchModuleError) throw new TorchModuleError(message);
    throw new Error(message);
  }
}

/** SOURCES entry body: load + compile with the spec's optimizer / loss_criterion. */
export async function loadPytorchFromSpec(spec: Record<string, unknown>, file: (key: string) => string, hints: { inputShape?: ShapeHint } = {}): Promise<LayersModel> {
  const inputShape = spec.input_shape;
  if (inputShape !== undefined && !(Array.isArray(inputShape) && inputShape.every((d) => d === null || (Number.isInteger(d) && d > 0)))) {
    throw new Error(`input_shape must be a list of positive integers (per sample, e.g. [1, 28, 28]), got ${JSON.stringify(inputShape)}`);
  }
  const name = typeof spec.model_name === "string" ? spec.model_name.replace(/[^A-Za-z0-9_.-]/g, "_") : undefined;
  const model = loadTorchSequential(file("model_definition"), { inputShape: inputShape as Shape | undefined, hint: hints.inputShape, name });
  compileTorchStyle(model, spec);
  return model;
}
