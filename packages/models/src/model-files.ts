/**
 * Reads and writes TF.js layers models (model.json + binary weight shards) on the local disk.
 * tfjs-node provides a file:// handler for this, but it is an optional native dependency, so
 * Cohort carries its own IOHandlers. Reads are defensive (files may come from anyone): weight
 * paths must stay inside the model's folder and file sizes must match the manifest before any
 * weight is read. Writes are atomic so that a crash never leaves a half-written model.
 */
import { mkdir, readFile, stat } from "node:fs/promises";
import path from "node:path";
import { atomicWriteFile } from "@cohort/tensors";
import { tf, tfl, type LayersModel } from "./tfjs.js";
// Registers the Conv2D that trains with dilation (model.json files name it "Conv2D").
import "./atrous-conv.js";
// Registers SavedModelGraph (interpreted SavedModels are saved as model.json with it).
import "./savedmodel/graph-layer.js";

export const WEIGHTS_FILE = "weights.bin";
export const MODEL_FILE = "model.json";

/** A model file that is missing, malformed or inconsistent; `file` is the offending path. */
export class ModelFileError extends Error {
  readonly code = "MODEL_FILE_INVALID";
  constructor(readonly file: string, problem: string) {
    super(`${file}: ${problem}`);
    this.name = "ModelFileError";
  }
}

/** Bytes per stored element, for plain and quantized weight entries. */
function storedBytes(entry: tf.io.WeightsManifestEntry): number {
  const count = entry.shape.reduce((a, b) => a * b, 1);
  const q = entry.quantization?.dtype;
  if (q === "uint8") return count;
  if (q === "uint16" || q === "float16") return count * 2;
  if (entry.dtype === "float32" || entry.dtype === "int32") return count * 4;
  if (entry.dtype === "bool") return count;
  throw new Error(`weight ${entry.name} has unsupported dtype ${entry.dtype}`);
}

async function readJson(file: string): Promise<tf.io.ModelJSON> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    throw new ModelFileError(file, `cannot read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ModelFileError(file, `not valid JSON (${(err as Error).message})`);
  }
  const obj = json as Partial<tf.io.ModelJSON>;
  if (typeof obj !== "object" || obj === null || typeof obj.modelTopology !== "object" || obj.modelTopology === null) {
    throw new ModelFileError(file, "no modelTopology object: not a TF.js layers model.json");
  }
  if (obj.weightsManifest !== undefined && !Array.isArray(obj.weightsManifest)) {
    throw new ModelFileError(file, "weightsManifest is not an array");
  }
  return obj as tf.io.ModelJSON;
}

/** Reads the shards of every manifest group, in order, after checking paths and sizes. */
async function readWeights(modelJsonPath: string, manifest: tf.io.WeightsManifestConfig): Promise<{ specs: tf.io.WeightsManifestEntry[]; data: ArrayBuffer }> {
  const dir = path.dirname(path.resolve(modelJsonPath));
  const specs: tf.io.WeightsManifestEntry[] = [];
  const files: Array<{ file: string; size: number }> = [];
  let total = 0;
  manifest.forEach((group, g) => {
    if (!Array.isArray(group.paths) || !Array.isArray(group.weights)) {
      throw new ModelFileError(modelJsonPath, `weightsManifest[${g}] needs "paths" and "weights" arrays`);
    }
    for (const rel of group.paths) {
      const file = path.resolve(dir, rel);
      const inside = path.relative(dir, file);
      if (path.isAbsolute(rel) || inside.startsWith("..") || path.isAbsolute(inside)) {
        throw new ModelFileError(modelJsonPath, `weight path "${rel}" leaves the model's folder ${dir}`);
      }
      files.push({ file, size: 0 });
    }
    specs.push(...group.weights);
  });
  for (const f of files) {
    try {
      const s = await stat(f.file);
      if (!s.isFile()) throw new ModelFileError(f.file, "weight shard is not a regular file");
      f.size = s.size;
    } catch (err) {
      if (err instanceof ModelFileError) throw err;
      throw new ModelFileError(f.file, `weight shard listed in ${modelJsonPath} cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
    }
    total += f.size;
  }
  const expected = specs.reduce((sum, s) => sum + storedBytes(s), 0);
  if (total !== expected) {
    const list = files.map((f) => `${path.basename(f.file)} ${f.size} B`).join(", ");
    throw new ModelFileError(modelJsonPath, `weights manifest describes ${expected} bytes but the shards hold ${total} (${list})`);
  }
  const data = new Uint8Array(total);
  let offset = 0;
  for (const f of files) {
    const bytes = await readFile(f.file);
    if (bytes.byteLength !== f.size) throw new ModelFileError(f.file, `changed size while being read (${f.size} -> ${bytes.byteLength} B)`);
    data.set(bytes, offset);
    offset += bytes.byteLength;
  }
  return { specs, data: data.buffer };
}

/** An IOHandler that loads model.json and its shards from the local disk. */
export function fileLoadHandler(modelJsonPath: string): tf.io.IOHandler {
  return {
    load: async (): Promise<tf.io.ModelArtifacts> => {
      const json = await readJson(modelJsonPath);
      const weights = json.weightsManifest ? await readWeights(modelJsonPath, json.weightsManifest) : undefined;
      return {
        modelTopology: json.modelTopology,
        format: json.format,
        generatedBy: json.generatedBy,
        convertedBy: json.convertedBy,
        trainingConfig: json.trainingConfig,
        userDefinedMetadata: json.userDefinedMetadata,
        modelInitializer: json.modelInitializer,
        weightSpecs: weights?.specs,
        weightData: weights?.data,
      };
    },
  };
}

export async function loadLayersModelFromFile(modelJsonPath: string): Promise<LayersModel> {
  try {
    return await tfl.loadLayersModel(fileLoadHandler(modelJsonPath));
  } catch (err) {
    if (err instanceof ModelFileError) throw err;
    throw new ModelFileError(modelJsonPath, `not a loadable layers model (${(err as Error).message})`);
  }
}

/** An IOHandler that saves model.json + weights.bin into `dir`. */
export function dirSaveHandler(dir: string): tf.io.IOHandler {
  return {
    save: async (artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> => {
      await mkdir(dir, { recursive: true });
      const weightData = artifacts.weightData === undefined ? new ArrayBuffer(0) : tf.io.CompositeArrayBuffer.join(artifacts.weightData);
      const modelJson: tf.io.ModelJSON = {
        modelTopology: artifacts.modelTopology as tf.io.ModelJSON["modelTopology"],
        format: artifacts.format ?? "layers-model",
        generatedBy: artifacts.generatedBy,
        convertedBy: artifacts.convertedBy ?? null,
        weightsManifest: [{ paths: [WEIGHTS_FILE], weights: artifacts.weightSpecs ?? [] }],
        ...(artifacts.trainingConfig ? { trainingConfig: artifacts.trainingConfig } : {}),
        ...(artifacts.userDefinedMetadata ? { userDefinedMetadata: artifacts.userDefinedMetadata } : {}),
      };
      // Weights first: a model.json always names shards at least as new as itself.
      await atomicWriteFile(path.join(dir, WEIGHTS_FILE), new Uint8Array(weightData));
      await atomicWriteFile(path.join(dir, MODEL_FILE), JSON.stringify(modelJson));
      return {
        modelArtifactsInfo: {
          dateSaved: new Date(),
          modelTopologyType: "JSON",
          weightDataBytes: weightData.byteLength,
          weightSpecsBytes: JSON.stringify(artifacts.weightSpecs ?? []).length,
        },
      };
    },
  };
}

/** Saves the model as `<dir>/model.json` + `<dir>/weights.bin`; returns the model.json path. */
export async function saveLayersModelToDir(model: LayersModel, dir: string): Promise<string> {
  await model.save(dirSaveHandler(dir), { includeOptimizer: false });
  return path.join(dir, MODEL_FILE);
}
