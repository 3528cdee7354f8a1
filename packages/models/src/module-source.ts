/**
 * Builds a model by running a user's JavaScript module (the "TensorFlow.js module" model
 * source). The module exports a factory that receives `{ tf, tfl }` (Cohort's single tfjs
 * instance), so it needs no tfjs install of its own and cannot load a second, incompatible
 * copy, and returns a `tfl.LayersModel`, possibly through a promise.
 */
import { access } from "node:fs/promises";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { tf, tfl, type LayersModel } from "./tfjs.js";

/** What a model module's factory receives. */
export interface ModelModuleContext {
  tf: typeof tf;
  tfl: typeof tfl;
}

export type ModelFactory = (context: ModelModuleContext) => LayersModel | Promise<LayersModel>;

/** Export names tried, in order, when none is given. */
export const DEFAULT_EXPORTS = ["default", "createModel"] as const;

export class ModelModuleError extends Error {
  readonly code = "MODEL_MODULE_INVALID";
  constructor(readonly file: string, readonly exportName: string | undefined, problem: string) {
    super(`${file}${exportName ? ` (export "${exportName}")` : ""}: ${problem}`);
    this.name = "ModelModuleError";
  }
}

/**
 * Imports `file` (resolved against the working directory) and calls its model factory. With no
 * `exportName`, uses the default export, else `createModel`.
 */
export async function loadModelFromModule(file: string, exportName?: string): Promise<LayersModel> {
  const absolute = path.resolve(file);
  try {
    await access(absolute);
  } catch {
    throw new ModelModuleError(absolute, exportName, "module file not found");
  }
  let namespace: Record<string, unknown>;
  try {
    namespace = (await import(pathToFileURL(absolute).href)) as Record<string, unknown>;
  } catch (err) {
    throw new ModelModuleError(absolute, exportName, `import failed: ${(err as Error).message}`);
  }
  const candidates = exportName ? [exportName] : [...DEFAULT_EXPORTS];
  const chosen = candidates.find((name) => namespace[name] !== undefined);
  if (chosen === undefined) {
    const available = Object.keys(namespace).join(", ") || "none";
    throw new ModelModuleError(absolute, exportName, `no export ${candidates.map((c) => `"${c}"`).join(" or ")} (exports: ${available})`);
  }
  const factory = namespace[chosen];
  if (typeof factory !== "function") {
    throw new ModelModuleError(absolute, chosen, `export is a ${typeof factory}, not a function returning a model`);
  }
  let result: unknown;
  try {
    result = await (factory as ModelFactory)({ tf, tfl });
  } catch (err) {
    throw new ModelModuleError(absolute, chosen, `factory threw: ${(err as Error).message}`);
  }
  if (!(result instanceof tfl.LayersModel)) {
    const what = result === null ? "null" : typeof result === "object" ? (result.constructor?.name ?? "an object") : typeof result;
    throw new ModelModuleError(absolute, chosen, `factory returned ${what}, not a tfl.LayersModel`);
  }
  return result;
}
