/**
 * Reading Keras' HDF5 layouts with h5wasm. h5wasm runs libhdf5 in WebAssembly and opens real
 * paths through Node's filesystem; a missing or non-HDF5 file makes libhdf5 fail with an
 * unhelpful message, so files are checked (existence, signature) before opening.
 */
import { closeSync, openSync, readSync, statSync } from "node:fs";
import h5wasm from "h5wasm/node";
import { KerasModelError } from "./errors.js";
import { type LayerWeights, type StoredWeight, splitWeightName } from "./weights-map.js";

export type H5File = InstanceType<typeof h5wasm.File>;
export type H5Group = InstanceType<typeof h5wasm.Group>;
export type H5Dataset = InstanceType<typeof h5wasm.Dataset>;

export const HDF5_SIGNATURE = Buffer.from([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]);

/** The first bytes of a file (fewer if it is shorter). */
export function fileHead(file: string, n = 8): Buffer {
  const fd = openSync(file, "r");
  try {
    const buf = Buffer.alloc(n);
    const got = readSync(fd, buf, 0, n, 0);
    return buf.subarray(0, got);
  } finally {
    closeSync(fd);
  }
}

/** libhdf5's error stack (thrown by h5wasm's throwing error handler) reduced to its innermost entry: the actual reason. */
export function hdf5Reason(message: string): string {
  const lines = message.split("\n").map((l) => l.trim()).filter(Boolean);
  const last = lines.map((l, i) => (/^#\d+:/.test(l) ? i : -1)).filter((i) => i >= 0).pop();
  if (last === undefined) return message;
  const minor = lines.slice(last + 1).find((l) => l.startsWith("minor:"));
  return `${lines[last]!.replace(/^#\d+:\s*\S+\s+line\s+\d+\s+in\s+/, "")}${minor ? ` (${minor})` : ""}`;
}

let quiet: Promise<void> | undefined;
/**
 * h5wasm's libhdf5 prints its error stack (HDF5-DIAG ...) on stderr whenever a call fails, e.g.
 * on a truncated file. h5wasm's own switch, activate_throwing_error_handler, makes libhdf5 throw
 * that report as a JS Error instead: nothing reaches stderr and the reason ends up in our error.
 */
export function readyH5(): Promise<void> {
  quiet ??= h5wasm.ready.then((module) => {
    (module as unknown as { activate_throwing_error_handler?: () => number }).activate_throwing_error_handler?.();
  });
  return quiet;
}

export async function openH5(file: string, what: string): Promise<H5File> {
  let size: number;
  try {
    size = statSync(file).size;
  } catch (err) {
    throw new KerasModelError(file, `cannot read ${what} (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  if (size < 8 || !fileHead(file).equals(HDF5_SIGNATURE)) throw new KerasModelError(file, `not an HDF5 file (no HDF5 signature); expected ${what}`);
  await readyH5();
  try {
    const f = new h5wasm.File(file, "r");
    // h5wasm does not throw when libhdf5 refuses the file: the handle is just invalid.
    if (!(Number(f.file_id) > 0)) throw new Error("libhdf5 could not open it");
    f.keys();
    return f;
  } catch (err) {
    throw new KerasModelError(file, `HDF5 file cannot be opened, truncated or corrupt? (${hdf5Reason(err instanceof Error ? err.message : String(err))})`);
  }
}

/** An attribute as JS: strings (fixed or variable length) as string(s), numbers as arrays; undefined when absent. */
/** Creates (or reuses) the groups on a slash path, as h5wasm creates one level at a time. */
export function groupAt(root: H5Group, parts: string[]): H5Group {
  let g = root;
  for (const part of parts) {
    const existing = g.get(part);
    g = existing instanceof h5wasm.Group ? existing : g.create_group(part);
  }
  return g;
}

export function attr(obj: H5File | H5Group, name: string): unknown {
  if (!Object.prototype.hasOwnProperty.call(obj.attrs, name)) return undefined;
  return obj.get_attribute(name, true);
}

export function stringAttr(obj: H5File | H5Group, name: string): string | undefined {
  const v = attr(obj, name);
  return typeof v === "string" ? v : undefined;
}

/**
 * A string-list attribute. h5py splits attributes over 64 KiB into `name0`, `name1`, ...; a
 * layer without weights gets an empty float64 array instead of an empty string list.
 */
export function stringListAttr(obj: H5File | H5Group, name: string): string[] | undefined {
  let value = attr(obj, name);
  if (value === undefined && attr(obj, `${name}0`) !== undefined) {
    const parts: unknown[] = [];
    for (let i = 0; attr(obj, `${name}${i}`) !== undefined; i++) parts.push(...asArray(attr(obj, `${name}${i}`)));
    value = parts;
  }
  if (value === undefined) return undefined;
  return asArray(value).filter((v): v is string => typeof v === "string");
}

function asArray(v: unknown): unknown[] {
  if (typeof v === "string") return [v];
  if (Array.isArray(v)) return v;
  if (ArrayBuffer.isView(v)) return Array.from(v as unknown as ArrayLike<unknown>);
  return [];
}

export function readFloat(ds: H5Dataset | undefined, file: string, path: string): StoredWeight {
  if (!(ds instanceof h5wasm.Dataset)) throw new KerasModelError(file, `dataset ${path}: missing, or not a dataset`);
  let shape: number[];
  let value: unknown;
  try {
    shape = ds.shape ?? [];
    value = ds.value;
  } catch (err) {
    // libhdf5 reads a dataset's bytes only now: a damaged chunk fails here, and its path is what to report.
    throw new KerasModelError(file, `dataset ${path} cannot be read, truncated or corrupt? (${hdf5Reason(err instanceof Error ? err.message : String(err))})`);
  }
  let data: Float32Array;
  if (value instanceof Float32Array) data = value;
  else if (value instanceof Float64Array || value instanceof Float32Array) data = Float32Array.from(value);
  else if (ArrayBuffer.isView(value) || Array.isArray(value)) data = Float32Array.from(value as ArrayLike<number>, Number);
  else if (typeof value === "number") data = Float32Array.of(value);
  else throw new KerasModelError(file, `weight ${path} has dtype ${String(ds.dtype)}, not a float array`);
  const count = shape.reduce((a, b) => a * b, 1);
  if (data.length !== count) throw new KerasModelError(file, `weight ${path}: ${data.length} values for shape [${shape}]`);
  return { shape, data };
}

export function dataset(group: H5Group | H5File, path: string): H5Dataset | undefined {
  const obj = group.get(path);
  return obj instanceof h5wasm.Dataset ? obj : undefined;
}

/**
 * Keras 2 weights (`save_weights` layout, or the `model_weights` group of a full model):
 * attr `layer_names`, one group per layer with attr `weight_names`, datasets at those paths.
 * Nested models store their inner layers' weights in the nested model's group; the layer a
 * weight belongs to is the second-last segment of its name.
 */
export function readKeras2Weights(root: H5Group | H5File, file: string): LayerWeights {
  const out: LayerWeights = new Map();
  const layerNames = stringListAttr(root, "layer_names");
  if (!layerNames) throw new KerasModelError(file, `no "layer_names" attribute: not a Keras weights file (model_weights / save_weights layout)`);
  for (const layerName of layerNames) {
    const group = root.get(layerName);
    if (!(group instanceof h5wasm.Group)) throw new KerasModelError(file, `layer "${layerName}" is listed in layer_names but has no group`);
    for (const weightName of stringListAttr(group, "weight_names") ?? []) {
      const ds = dataset(group, weightName);
      if (!ds) throw new KerasModelError(file, `layer "${layerName}": weight "${weightName}" is listed but missing`);
      const { layer, name } = splitWeightName(weightName);
      const key = layer || layerName;
      const list = out.get(key) ?? [];
      const path = [layerName, ...weightName.split("/").slice(0, -1)];
      list.push({ name, path, ...readFloat(ds, file, `${layerName}/${weightName}`) });
      out.set(key, list);
    }
  }
  return out;
}
