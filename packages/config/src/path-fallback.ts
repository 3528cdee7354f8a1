import { existsSync } from "node:fs";
import { isAbsolute, resolve } from "node:path";
import { isPlainObject } from "./key-path.js";

/**
 * IBM FL resolves relative paths against the working directory (its users run from the IBM FL
 * repository root, with paths such as examples/data/mnist/random/data_party0.npz); Cohort
 * against the config file's folder. A relative path that does not exist under the config's
 * folder but does under the working directory is taken from there, and the choice is kept so
 * the caller logs it. A path found in neither stays against the config's folder, so the error
 * that follows names the place Cohort looks first.
 */
export type PathBase = "config folder" | "working directory";

export interface ResolvedPath {
  /** Dotted key, e.g. data.info.npz_file. */
  key: string;
  written: string;
  /** Absolute. */
  path: string;
  against: PathBase;
}

export function resolvePathWithFallback(written: string, baseDir: string, cwd: string = process.cwd()): { path: string; against: PathBase } {
  const inConfigFolder = resolve(baseDir, written);
  if (isAbsolute(written) || existsSync(inConfigFolder)) return { path: inConfigFolder, against: "config folder" };
  const inWorkingDir = resolve(cwd, written);
  return existsSync(inWorkingDir) ? { path: inWorkingDir, against: "working directory" } : { path: inConfigFolder, against: "config folder" };
}

/** Data handler settings that name files. */
export const DATA_PATH_KEYS = ["npz_file", "train_file", "test_file", "file", "txt_file"] as const;
/** Model spec keys that name files. */
export const SPEC_PATH_KEYS = ["model_definition", "model_architecture", "model_weights"] as const;

/**
 * A copy of `values` whose relative string values under `keys` that exist only under the working
 * directory are made absolute; each relative one is recorded in `resolved` as `<prefix>.<key>`.
 * `custom_objects[].path` too when `withCustomObjects`.
 */
export function resolveSectionPaths(
  values: Record<string, unknown>, keys: readonly string[], prefix: string, baseDir: string, resolved: ResolvedPath[],
  options: { withCustomObjects?: boolean; cwd?: string } = {},
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...values };
  const take = (key: string, written: unknown): unknown => {
    if (typeof written !== "string" || written === "" || isAbsolute(written)) return written;
    const choice = resolvePathWithFallback(written, baseDir, options.cwd);
    resolved.push({ key, written, ...choice });
    // Only a path taken from the working directory is rewritten: the others stay as written, for
    // the handler or loader to resolve against the config's folder as before.
    return choice.against === "working directory" ? choice.path : written;
  };
  for (const key of keys) if (key in out) out[key] = take(`${prefix}.${key}`, out[key]);
  const objects = out.custom_objects;
  if (options.withCustomObjects && objects !== undefined) {
    const list = Array.isArray(objects) ? objects : [objects];
    const mapped = list.map((entry, i) => (isPlainObject(entry) && "path" in entry ? { ...entry, path: take(`${prefix}.custom_objects[${i}].path`, entry.path) } : entry));
    out.custom_objects = Array.isArray(objects) ? mapped : mapped[0];
  }
  return out;
}
