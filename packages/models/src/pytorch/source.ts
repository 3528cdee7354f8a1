/**
 * The PytorchFLModel source: a `torch.save`d nn.Sequential (`model_definition`) -> a compiled,
 * trainable TF.js layers model with PyTorch's input/output semantics (NCHW in).
 */
import { readFileSync } from "node:fs";
import { loadTorchFile } from "./torch-file.js";
import { PyObject } from "./unpickler.js";
import { buildFromModules, flattenModules, inferInputShape, type TorchKey } from "./modules.js";
import { compileTorchStyle } from "./training.js";
import type { LayersModel } from "../tfjs.js";

export const PYTORCH_SPEC_KEYS = ["model_name", "model_definition", "optimizer", "loss_criterion", "learning_rate", "lr", "input_shape"] as const;

/** state_dict prefixes of models converted from PyTorch, for `saveTorchStateDict`. */
const torchKeysOf = new WeakMap<LayersModel, TorchKey[]>();
export function torchKeys(model: LayersModel): TorchKey[] | undefined {
  return torchKeysOf.get(model);
}

/** Reads the .pt file; errors name the file, the module and what is supported. */
export function loadTorchSequential(file: string, options: { inputShape?: (number | null)[]; name?: string } = {}): LayersModel {
  let bytes: Uint8Array;
  try { bytes = new Uint8Array(readFileSync(file)); } catch (e) { throw new Error(`${file}: cannot read (${(e as Error).message})`); }
  const root = loadTorchFile(bytes, file);
  if (root instanceof Map) throw new Error(`${file}: holds a state_dict, not a whole module; save the nn.Sequential itself (torch.save(model, path))`);
  if (!(root instanceof PyObject) || !root.cls.endsWith(".Sequential")) {
    throw new Error(`${file}: holds ${root instanceof PyObject ? root.cls : typeof root}, not an nn.Sequential (the only module type that can be converted without running its Python code)`);
  }
  try {
    const modules = flattenModules(root);
    const inputShape = options.inputShape ?? inferInputShape(modules);
    const { model, torchKeys } = buildFromModules(modules, inputShape, options.name ?? "pytorch_sequential");
    torchKeysOf.set(model, torchKeys);
    return model;
  } catch (e) {
    throw new Error(`${file}: ${(e as Error).message}`);
  }
}

/** SOURCES entry body: load + compile with the spec's optimizer / loss_criterion. */
export async function loadPytorchFromSpec(spec: Record<string, unknown>, file: (key: string) => string): Promise<LayersModel> {
  const inputShape = spec.input_shape;
  if (inputShape !== undefined && !(Array.isArray(inputShape) && inputShape.every((d) => d === null || (Number.isInteger(d) && d > 0)))) {
    throw new Error(`input_shape must be a list of positive integers (per sample, e.g. [1, 28, 28]), got ${JSON.stringify(inputShape)}`);
  }
  const name = typeof spec.model_name === "string" ? spec.model_name.replace(/[^A-Za-z0-9_.-]/g, "_") : undefined;
  const model = loadTorchSequential(file("model_definition"), { inputShape: inputShape as (number | null)[] | undefined, name });
  compileTorchStyle(model, spec);
  return model;
}
