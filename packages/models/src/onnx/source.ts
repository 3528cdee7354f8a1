/**
 * The OnnxModel source: an `.onnx` file (`model_definition`) -> a compiled, trainable TF.js
 * layers model (NCHW in, like the ONNX graph), compiled from the same `optimizer` /
 * `loss_criterion` keys as PytorchFLModel (ONNX files mostly come from PyTorch exports).
 */
import { readFileSync } from "node:fs";
import type { LayersModel } from "../tfjs.js";
import { compileTorchStyle } from "../pytorch/training.js";
import { onnxToLayers } from "./import.js";
import { readOnnxModel } from "./proto.js";

export const ONNX_SPEC_KEYS = ["model_name", "model_definition", "optimizer", "loss_criterion", "learning_rate", "lr"] as const;

export function loadOnnxAsLayers(file: string, name?: string): LayersModel {
  let bytes: Uint8Array;
  try { bytes = new Uint8Array(readFileSync(file)); } catch (e) { throw new Error(`${file}: cannot read (${(e as Error).message})`); }
  return onnxToLayers(readOnnxModel(bytes, file), file, name);
}

export async function loadOnnxFromSpec(spec: Record<string, unknown>, file: (key: string) => string): Promise<LayersModel> {
  const name = typeof spec.model_name === "string" ? spec.model_name.replace(/[^A-Za-z0-9_.-]/g, "_") : undefined;
  const model = loadOnnxAsLayers(file("model_definition"), name);
  compileTorchStyle(model, spec);
  return model;
}
