/**
 * Writes a model back as a Keras 3 `.keras` archive: the source archive's config.json and
 * metadata.json unchanged (Keras' own config, which Keras reads back exactly) and a new
 * model.weights.h5 holding the model's current weights at the object paths Keras 3's
 * saving_lib uses (keras3-weights.ts). No optimizer state is written: Keras builds a fresh one.
 */
import { mkdtemp, readFile, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { unzipSync, zipSync } from "fflate";
import h5wasm from "h5wasm/node";
import type { LayersModel } from "../tfjs.js";
import { KerasModelError } from "./errors.js";
import { type H5Group, groupAt, readyH5 } from "./h5.js";
import { keras3ObjectPaths } from "./keras3-weights.js";
import { leafLayers } from "./weights-map.js";

/** The model's weights as Keras 3's model.weights.h5 for `modelConfig` (a Keras 3 config). */
export async function writeKeras3WeightsH5(model: LayersModel, modelConfig: unknown, file: string): Promise<void> {
  const paths = keras3ObjectPaths(modelConfig);
  await readyH5();
  const f = new h5wasm.File(file, "w");
  try {
    for (const layer of leafLayers(model)) {
      if (layer.weights.length === 0) continue;
      const at = paths.get(layer.name);
      if (!at) throw new KerasModelError(file, `layer "${layer.name}" is not in the source archive's config: cannot place its weights`);
      // A Bidirectional's weights split evenly over forward_layer/cell and backward_layer/cell.
      const per = layer.weights.length / at.length;
      at.forEach((objectPath, p) => {
        const vars = groupAt(f as unknown as H5Group, [...objectPath.split("/"), "vars"]);
        layer.weights.slice(p * per, (p + 1) * per).forEach((w, i) => {
          vars.create_dataset({ name: String(i), data: Float32Array.from(w.read().dataSync() as Float32Array), shape: [...w.shape] as number[], dtype: "<f" });
        });
      });
    }
  } finally {
    f.close();
  }
}

/** `sourceArchive`'s config with `model`'s weights, written atomically to `file`. */
export async function saveKeras3Archive(model: LayersModel, sourceArchive: string, file: string): Promise<void> {
  let source: Record<string, Uint8Array>;
  try {
    source = unzipSync(await readFile(sourceArchive));
  } catch (err) {
    throw new KerasModelError(sourceArchive, `not a readable .keras zip archive (${(err as Error).message}): cannot write a .keras file from it`);
  }
  const configBytes = source["config.json"];
  if (!configBytes) throw new KerasModelError(sourceArchive, "no config.json in the archive: cannot write a .keras file from it");
  const config = JSON.parse(Buffer.from(configBytes).toString("utf8")) as unknown;
  const dir = await mkdtemp(path.join(tmpdir(), "cohort-keras3-export-"));
  try {
    const h5 = path.join(dir, "model.weights.h5");
    await writeKeras3WeightsH5(model, config, h5);
    const entries: Record<string, Uint8Array> = { "config.json": configBytes, "model.weights.h5": new Uint8Array(await readFile(h5)) };
    if (source["metadata.json"]) entries["metadata.json"] = source["metadata.json"];
    const tmp = `${file}.tmp-${process.pid}`;
    await writeFile(tmp, zipSync(entries, { level: 6 }));
    await rename(tmp, file);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
