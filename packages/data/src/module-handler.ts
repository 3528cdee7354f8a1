import { access } from "node:fs/promises";
import { pathToFileURL } from "node:url";
import type { Dataset, Split } from "./dataset.js";
import { DataError } from "./errors.js";

/**
 * The counterpart of IBM FL's custom data handler (a Python class named in data.name, its file
 * in data.path): a JS module named in data.path whose default export (or `loadData`) receives
 * `{ info, baseDir }` and returns, or resolves to, `{ train, test }`, each
 * `{ x: Float32Array, xShape, y: Int32Array | Float32Array, yShape }` (Split). Only the user's
 * own module runs, as with TfjsModuleModel; what it returns is checked like any handler's data.
 */
export type DataModuleExport = (context: { info: Record<string, unknown>; baseDir: string }) => unknown;

const EXPORTS = ["default", "loadData"] as const;

export async function loadDataModule(file: string, name: string, info: Record<string, unknown>, baseDir: string): Promise<Dataset> {
  const where = `data handler ${name} (${file})`;
  try {
    await access(file);
  } catch {
    throw new DataError("data.file_missing", `${where}: module file not found`);
  }
  let namespace: Record<string, unknown>;
  try {
    namespace = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (error) {
    throw new DataError("data.bad_info", `${where}: import failed: ${(error as Error).message}`);
  }
  const chosen = EXPORTS.find((key) => typeof namespace[key] === "function");
  if (chosen === undefined) {
    throw new DataError("data.bad_info", `${where}: no function export "default" or "loadData" (exports: ${Object.keys(namespace).join(", ") || "none"})`);
  }
  const result = (await (namespace[chosen] as DataModuleExport)({ info, baseDir })) as { train?: unknown; test?: unknown } | undefined;
  const train = asSplit(result?.train, `${where}: train`);
  const test = asSplit(result?.test, `${where}: test`);
  return {
    train, test,
    description: `${name} from ${file}: ${train.xShape[0]} train / ${test.xShape[0]} test examples of shape [${train.xShape.slice(1).join(", ")}]`,
  };
}

function asSplit(value: unknown, where: string): Split {
  const split = value as Partial<Split> | undefined;
  const shapeOk = (shape: unknown) => Array.isArray(shape) && shape.length > 0 && shape.every((d) => Number.isSafeInteger(d) && d >= 0);
  if (typeof split !== "object" || split === null || !(split.x instanceof Float32Array) || !shapeOk(split.xShape)
    || !(split.y instanceof Int32Array || split.y instanceof Float32Array) || !shapeOk(split.yShape)) {
    throw new DataError("data.bad_array", `${where}: expected {x: Float32Array, xShape: number[], y: Int32Array (class ids) or Float32Array, yShape: number[]}`);
  }
  return split as Split;
}
