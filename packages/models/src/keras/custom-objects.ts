/**
 * The spec's `custom_objects` ({key, value, path}): `path` is a JS module (relative to the
 * spec), its export `value` is what Keras knew as `key`. Layer classes are registered with tfjs
 * serialization under `key`, so a config naming that class deserialises; functions are kept
 * as custom losses / metrics for compiling. Only the user's own module runs, never model files.
 */
import path from "node:path";
import { pathToFileURL } from "node:url";
import { tf, tfl } from "../tfjs.js";
import { KerasModelError } from "./errors.js";

export interface CustomObjects {
  /** Keras class names registered as layers. */
  layerClasses: Set<string>;
  /** Custom losses / metrics by their Keras name. */
  functions: Map<string, (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Tensor>;
}

export async function loadCustomObjects(entries: unknown, baseDir: string, where: string): Promise<CustomObjects> {
  const out: CustomObjects = { layerClasses: new Set(), functions: new Map() };
  if (entries === undefined || entries === null) return out;
  const list = Array.isArray(entries) ? entries : [entries];
  for (const [i, entry] of list.entries()) {
    const e = entry as { key?: unknown; value?: unknown; path?: unknown };
    const at = `${where}: custom_objects[${i}]`;
    if (typeof e !== "object" || e === null || typeof e.key !== "string" || typeof e.path !== "string") {
      throw new KerasModelError(at, "expected {key: <Keras class or function name>, value: <export name>, path: <JS module>}");
    }
    if (/\.py$/i.test(e.path)) {
      // IBM FL imports the Python module; Cohort runs no Python and reads no code from model files.
      throw new KerasModelError(at, `path "${e.path}" is a Python module: Cohort runs no Python. Write ${e.key} as a JS module ` +
        `(e.g. ${e.path.replace(/\.py$/i, ".mjs")}) exporting "${typeof e.value === "string" && e.value !== "" ? e.value : e.key}": a tfjs layers.Layer subclass for a layer, ` +
        "or a function (yTrue, yPred) => tf.Tensor for a loss or metric, and name that file in path");
    }
    const exportName = typeof e.value === "string" && e.value !== "" ? e.value : e.key;
    const file = path.resolve(baseDir, e.path);
    let mod: Record<string, unknown>;
    try {
      mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
    } catch (err) {
      throw new KerasModelError(file, `${at}: module cannot be imported (${(err as Error).message})`);
    }
    const value = mod[exportName];
    if (typeof value !== "function") {
      throw new KerasModelError(file, `${at}: no function or class export "${exportName}" (exports: ${Object.keys(mod).join(", ") || "none"})`);
    }
    if (value.prototype instanceof tfl.layers.Layer) {
      // tfjs finds classes by their static className; Keras configs name them by the key.
      const cls = value as unknown as tf.serialization.SerializableConstructor<tf.serialization.Serializable> & { className?: string };
      if (typeof cls.className !== "string" || cls.className === "") Object.defineProperty(cls, "className", { value: e.key, configurable: true });
      tf.serialization.registerClass(cls);
      tf.serialization.SerializationMap.getMap().classNameMap[e.key] = [cls, cls.fromConfig];
      out.layerClasses.add(e.key);
    } else {
      out.functions.set(e.key, value as (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Tensor);
    }
  }
  return out;
}
