/**
 * Keras 3 `.keras` archives: a zip of metadata.json, config.json (model config with
 * compile_config) and model.weights.h5. h5wasm needs a real file, so the weights are written
 * to a private temporary file and removed after reading.
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { unzipSync } from "fflate";
import type { LayersModel } from "../tfjs.js";
import { buildKerasModel } from "./build.js";
import { KerasModelError } from "./errors.js";
import { openH5 } from "./h5.js";
import { readKeras3Weights } from "./keras3-weights.js";
import type { KerasLoadOptions } from "./h5-model.js";

export async function loadKeras3(file: string, options: KerasLoadOptions = {}): Promise<LayersModel> {
  let entries: Record<string, Uint8Array>;
  try {
    entries = unzipSync(await readFile(file));
  } catch (err) {
    throw new KerasModelError(file, `not a readable .keras zip archive (${(err as Error).message})`);
  }
  const configBytes = entries["config.json"];
  const weightBytes = entries["model.weights.h5"];
  if (!configBytes) throw new KerasModelError(file, `no config.json in the archive (entries: ${Object.keys(entries).join(", ")}); expected a Keras 3 .keras file`);
  let config: Record<string, unknown>;
  try {
    config = JSON.parse(Buffer.from(configBytes).toString("utf8")) as Record<string, unknown>;
  } catch (err) {
    throw new KerasModelError(file, `config.json is not valid JSON (${(err as Error).message})`);
  }
  let weights;
  if (weightBytes) {
    const dir = await mkdtemp(path.join(tmpdir(), "cohort-keras3-"));
    const h5 = path.join(dir, "model.weights.h5");
    try {
      await writeFile(h5, weightBytes, { mode: 0o600 });
      const f = await openH5(h5, `model.weights.h5 inside ${file}`);
      try {
        weights = readKeras3Weights(f, `${file}:model.weights.h5`, config);
      } finally {
        f.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
  return buildKerasModel({ modelConfig: config, trainingConfig: config.compile_config, weights, ignoreTrainingConfig: options.ignoreTrainingConfig, customFunctions: options.customFunctions }, {
    file,
    custom: new Set(options.customClasses ?? []),
  });
}
