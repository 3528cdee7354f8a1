/**
 * Exports a model loaded from a SavedModel (interpreted graph or Keras config) back as a SavedModel
 * directory: the source's saved_model.pb (and keras_metadata.pb, assets) copied as they are, and a
 * new variables bundle holding the model's current weights under the source's checkpoint keys. `tf.saved_model.load` then serves the trained model with the source's own graph.
 */
import { copyFile, mkdir, readdir, rm } from "node:fs/promises";
import { existsSync } from "node:fs";
import path from "node:path";
import type { LayersModel } from "../tfjs.js";
import { rewriteBundle } from "./bundle-writer.js";
import { SavedModelGraph } from "./graph-layer.js";
import { checkpointKeysById, describeGraphSavedModel } from "./graph-savedmodel.js";
import { kerasSavedModelValues } from "./keras-savedmodel.js";

function sameValues(a: Float32Array | undefined, b: Float32Array | undefined): boolean {
  return !!a && !!b && a.length === b.length && a.every((v, i) => Object.is(v, b[i]));
}

/** The graph layer of a model loaded by loadGraphSavedModel, if it is one. */
export function savedModelGraphLayer(model: LayersModel): SavedModelGraph | undefined {
  return model.layers.find((l): l is SavedModelGraph => l instanceof SavedModelGraph);
}

/**
 * Writes `model`'s weights into a copy of the SavedModel at `sourceDir` it was loaded from: an
 * interpreted graph's variables, or a Keras SavedModel's layer weights. Returns `outDir`.
 */
export async function saveSavedModel(model: LayersModel, sourceDir: string, outDir: string): Promise<string> {
  const replace = savedModelGraphLayer(model) ? graphValues(model, sourceDir) : kerasSavedModelValues(model, sourceDir);
  await copySavedModel(sourceDir, outDir, replace);
  return outDir;
}

function graphValues(model: LayersModel, sourceDir: string): Map<string, Float32Array> {
  const layer = savedModelGraphLayer(model)!;
  const info = describeGraphSavedModel(sourceDir);
  const values = layer.variableValues().map((t) => Float32Array.from(t.dataSync()));
  if (values.length !== info.variables.length) throw new Error(`${sourceDir}: the model has ${values.length} variables, the SavedModel ${info.variables.length}`);
  const replace = new Map<string, Float32Array>();
  info.variables.forEach((v, k) => replace.set(v.checkpointKey, values[k]!));
  // Keras 3 exports track each variable twice (variables/N and _all_variables/M): entries of the
  // same name and the same saved value as a captured variable are that variable too.
  const keys = checkpointKeysById(info.bundle.get("_CHECKPOINTABLE_OBJECT_GRAPH")!.strings![0]!);
  info.graph.objects.forEach((obj, id) => {
    const key = keys.get(id);
    if (obj.kind !== "variable" || !key || replace.has(key)) return;
    const k = info.variables.findIndex((v) => v.name === obj.variable!.name.replace(/:0$/, "") || obj.variable!.name === info.graph.objects[v.nodeId]!.variable!.name);
    const twin = info.variables[k];
    if (twin && sameValues(info.bundle.get(key)?.float32, info.bundle.get(twin.checkpointKey)?.float32)) replace.set(key, values[k]!);
  });
  return replace;
}

async function copySavedModel(sourceDir: string, outDir: string, replace: Map<string, Float32Array>): Promise<void> {
  await rm(outDir, { recursive: true, force: true });
  await mkdir(path.join(outDir, "variables"), { recursive: true });
  for (const file of ["saved_model.pb", "keras_metadata.pb"]) {
    if (existsSync(path.join(sourceDir, file))) await copyFile(path.join(sourceDir, file), path.join(outDir, file));
  }
  const assets = path.join(sourceDir, "assets");
  if (existsSync(assets)) {
    await mkdir(path.join(outDir, "assets"));
    for (const f of await readdir(assets, { withFileTypes: true })) if (f.isFile()) await copyFile(path.join(assets, f.name), path.join(outDir, "assets", f.name));
  }
  await rewriteBundle(path.join(sourceDir, "variables", "variables"), path.join(outDir, "variables", "variables"), replace);
}
