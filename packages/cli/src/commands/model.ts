/**
 * `cohort model inspect SPEC` and `cohort model predict SPEC --input x.npy --output y.npy`:
 * load a model exactly as a party would (same loaders, same spec keys) and show or run it.
 */
import { readFileSync, statSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { load as parseYaml } from "js-yaml";
import { type ModelSection, parseModelSection } from "@cohort/config";
import {
  type BackendPreference, type LayersModel, type ShapeHint, detectKerasFormat, inputShapeOrigin, loadModelFromSpec, modelManifest, selectBackend, tf,
} from "@cohort/models";
import { loadingInput } from "../exit-codes.js";
import { atomicWriteFile, fingerprint, readNpy, writeNpy } from "@cohort/tensors";

/** Shown by `cohort model --help`: how SPEC is read. */
export const MODEL_SPEC_HELP = `SPEC is read by this rule, first match wins:
  1. a model file or directory: .h5/.hdf5/.keras or a SavedModel directory (KerasFLModel),
     .pt/.pth (PytorchFLModel), .onnx (OnnxModel), .mjs/.js (TfjsModuleModel), or a TF.js
     model.json (a JSON file with modelTopology: TfjsModel);
  2. a YAML/JSON file with a "model" mapping: a party or aggregator config; its model section
     (name + spec or info) is used, parsed exactly as the config loader does;
  3. a YAML/JSON file with "name" and "spec" (or "info"): a model section on its own;
  4. any other YAML/JSON file: a spec (model_definition, model_architecture, ... as in the IBM
     FL guide) for the source named by --name, or else guessed from model_definition's
     extension (model_architecture means KerasFLModel).
--name always overrides the model source. Relative paths resolve against the file they are in.
inspect and predict run inference only: training keys (optimizer, loss_criterion, compile options)
are optional there; train needs them.

A PyTorch nn.Sequential holds no input shape: without input_shape in its spec, predict takes the
shape of --input and inspect that of --input-shape; else the layers must admit only one.`;

export interface ModelCommandOptions { name?: string; backend?: BackendPreference }

export class ModelCommandError extends Error {
  readonly code = "MODEL_COMMAND";
  override name = "ModelCommandError";
}

const BY_EXTENSION: Record<string, string> = {
  ".h5": "KerasFLModel", ".hdf5": "KerasFLModel", ".keras": "KerasFLModel", ".pt": "PytorchFLModel", ".pth": "PytorchFLModel",
  ".onnx": "OnnxModel", ".mjs": "TfjsModuleModel", ".js": "TfjsModuleModel",
};

const isMapping = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** The model section SPEC stands for (see MODEL_SPEC_HELP). */
export function resolveModelSpec(spec: string, name?: string): ModelSection {
  const file = path.resolve(spec);
  let isDir: boolean;
  try { isDir = statSync(file).isDirectory(); } catch { throw new ModelCommandError(`${spec}: no such file or directory`); }
  const ext = path.extname(file).toLowerCase();
  const asModelFile = (source: string): ModelSection => ({ name: name ?? source, spec: { model_definition: path.basename(file) }, specBaseDir: path.dirname(file) });
  if (isDir) return asModelFile("KerasFLModel");
  if (BY_EXTENSION[ext]) return asModelFile(BY_EXTENSION[ext]!);
  let doc: unknown;
  try { doc = parseYaml(readFileSync(file, "utf8"), { filename: spec }); } catch (e) { throw new ModelCommandError(`${spec}: not a model file, and not valid YAML/JSON (${(e as Error).message.split("\n")[0]})`); }
  if (!isMapping(doc)) throw new ModelCommandError(`${spec}: expected a mapping (config, model section or spec), got ${Array.isArray(doc) ? "a list" : String(doc)}`);
  const withName = (m: ModelSection): ModelSection => (name ? { ...m, name } : m);
  if ("modelTopology" in doc) return asModelFile("TfjsModel");
  if (isMapping(doc.model)) return withName(parseModelSection(doc.model, spec, path.dirname(file), ["model"]).model);
  if (typeof doc.name === "string" && ("spec" in doc || "info" in doc)) return withName(parseModelSection(doc, spec, path.dirname(file)).model);
  const def = typeof doc.model_definition === "string" ? doc.model_definition : undefined;
  const guessed = name ?? (def !== undefined ? BY_EXTENSION[path.extname(def).toLowerCase()] ?? (path.basename(def) === def && def.endsWith(".json") ? "TfjsModel" : undefined) : typeof doc.model_architecture === "string" ? "KerasFLModel" : undefined);
  if (!guessed) throw new ModelCommandError(`${spec}: cannot tell the model source from model_definition; pass --name (KerasFLModel, PytorchFLModel, OnnxModel, TfjsModel, ...)`);
  // The spec file is the section's spec by path, so config's loader reads it and records specFile.
  return parseModelSection({ name: guessed, spec: path.basename(file) }, spec, path.dirname(file)).model;
}

async function loadForInference(spec: string, options: ModelCommandOptions, inputShape?: ShapeHint): Promise<{ section: ModelSection; model: LayersModel; backend: string }> {
  const backend = await selectBackend(options.backend ?? "auto");
  const section = resolveModelSpec(spec, options.name);
  const model = await loadingInput(`${spec}: model (${section.name})`, () => loadModelFromSpec(section, { inferenceOnly: true, inputShape }));
  return { section, model, backend: backend.name };
}

/** `--input-shape 1,28,28` (per example, no batch axis) -> [1, 28, 28]. */
export function parseInputShape(value: string): number[] {
  const dims = value.replace(/^\[|\]$/g, "").split(/[\s,x]+/).filter((d) => d !== "").map(Number);
  if (dims.length === 0 || !dims.every((d) => Number.isInteger(d) && d > 0)) {
    throw new ModelCommandError(`--input-shape: expected positive integers per example, without the batch axis (e.g. 1,28,28), got "${value}"`);
  }
  return dims;
}

/** The file format behind a source, for inspect (Keras sources read several, told apart by content). */
function formatOf(source: string, file: string | undefined): string {
  if ((source === "KerasFLModel" || source === "TensorFlowFLModel") && file) {
    return { hdf5: "Keras HDF5", keras3: "Keras 3 .keras archive", savedmodel: "TensorFlow SavedModel (tf.keras)", json: "Keras architecture JSON + weights h5" }[detectKerasFormat(file)];
  }
  return ({ PytorchFLModel: "PyTorch torch.save nn.Sequential", OnnxModel: "ONNX", TfjsModel: "TensorFlow.js layers model.json", TfjsModuleModel: "JS module (TF.js factory)" } as Record<string, string>)[source] ?? source;
}

const shapeText = (s: unknown) => `[${(s as (number | null)[]).map((d) => d ?? "?").join(", ")}]`;

/** `cohort model inspect SPEC`: source, layers, parameter counts, manifest and fingerprint. */
export async function runModelInspect(spec: string, options: ModelCommandOptions & { json?: boolean; inputShape?: string }, print = (l: string) => process.stdout.write(`${l}\n`)): Promise<number> {
  const hint = options.inputShape === undefined ? undefined : { shape: parseInputShape(options.inputShape), from: "--input-shape" };
  const { section, model, backend } = await loadForInference(spec, options, hint);
  const origin = inputShapeOrigin(model);
  const manifest = modelManifest(model);
  const count = (ws: { shape: number[] }[]) => ws.reduce((a, w) => a + w.shape.reduce((x, y) => x * y, 1), 0);
  const trainable = count(model.trainableWeights.map((w) => ({ shape: [...w.shape] as number[] })));
  const total = count(manifest.tensors);
  const layers = model.layers.map((l) => ({ name: l.name, class: l.getClassName(), output: l.outputShape, params: l.countParams() }));
  const definition = section.spec.model_definition ?? section.spec.model_architecture;
  const file = typeof definition === "string" ? path.resolve(section.specBaseDir, definition) : undefined;
  const info = {
    source: section.name, format: formatOf(section.name, file), file, spec_file: section.specFile,
    backend, input: model.inputs.map((t) => t.shape), ...(origin ? { input_shape_from: origin === "hint" ? "--input-shape" : origin } : {}),
    output: model.outputs.map((t) => t.shape),
    parameters: { total, trainable, non_trainable: total - trainable }, layers, manifest: manifest.tensors, fingerprint: fingerprint(manifest),
  };
  model.dispose();
  if (options.json) { print(JSON.stringify(info, null, 2)); return 0; }
  print(`source       ${info.source}${info.file ? ` (${info.file})` : ""}`);
  print(`format       ${info.format}`);
  if (info.spec_file) print(`spec file    ${info.spec_file}`);
  print(`input        ${info.input.map(shapeText).join(", ")}${info.input_shape_from ? ` (from ${info.input_shape_from === "spec" ? "the spec's input_shape" : info.input_shape_from})` : ""}`);
  print(`output       ${info.output.map(shapeText).join(", ")}`);
  print(`parameters   ${total} (${trainable} trainable, ${total - trainable} non-trainable)`);
  print(`fingerprint  ${info.fingerprint}`);
  print("layers");
  layers.forEach((l, i) => print(`  ${String(i).padStart(3)}  ${l.name.padEnd(28)} ${l.class.padEnd(22)} ${shapeText(Array.isArray(l.output[0]) ? l.output[0] : l.output).padEnd(20)} ${l.params}`));
  print(`manifest (${manifest.tensors.length} tensors)`);
  for (const t of manifest.tensors) print(`  ${t.name.padEnd(40)} ${t.dtype} [${t.shape.join(", ")}]`);
  return 0;
}

/** `cohort model predict SPEC --input x.npy --output y.npy`: batch inference, float32 .npy out. */
export async function runModelPredict(spec: string, options: ModelCommandOptions & { input: string; output: string; batchSize?: number }, print = (l: string) => process.stdout.write(`${l}\n`)): Promise<number> {
  const x = readNpy(new Uint8Array(await readFile(options.input)), options.input);
  // The input file's shape is the model's when the model file does not fix one (PyTorch).
  const { model, backend } = await loadForInference(spec, options, { shape: x.shape.slice(1), from: options.input });
  const want = model.inputs[0]!.shape;
  if (x.shape.length !== want.length || want.some((d, i) => i > 0 && d !== null && d !== x.shape[i])) {
    throw new ModelCommandError(`${options.input}: shape [${x.shape.join(", ")}] does not fit the model's input ${shapeText(want)} (first axis: batch)`);
  }
  const batchSize = options.batchSize ?? 32;
  const rows = x.shape[0]!;
  const per = x.data.length / Math.max(rows, 1);
  const values = Float32Array.from(x.data as ArrayLike<number>);
  const parts: Float32Array[] = [];
  let outShape: number[] = [];
  for (let start = 0; start < rows; start += batchSize) {
    const n = Math.min(batchSize, rows - start);
    const y = tf.tidy(() => {
      const out = model.predict(tf.tensor(values.subarray(start * per, (start + n) * per), [n, ...x.shape.slice(1)]));
      if (Array.isArray(out)) throw new ModelCommandError(`the model has ${out.length} outputs; predict writes single-output models only`);
      return out;
    });
    outShape = y.shape;
    parts.push(Float32Array.from(await y.data()));
    y.dispose();
  }
  const data = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  parts.reduce((at, p) => { data.set(p, at); return at + p.length; }, 0);
  const shape = [rows, ...outShape.slice(1)];
  await atomicWriteFile(path.resolve(options.output), writeNpy({ dtype: "float32", shape, data }));
  print(`${rows} row(s) -> ${options.output} [${shape.join(", ")}] float32 (${backend} backend)`);
  model.dispose();
  return 0;
}
