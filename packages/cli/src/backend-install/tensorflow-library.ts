/**
 * Finds the TensorFlow C library (libtensorflow) of a TensorFlow that is already on the machine,
 * so that tfjs-node's binding can be built against it instead of downloading libtensorflow 2.9.1.
 * Three layouts carry one:
 * - a pip TensorFlow package (`site-packages/tensorflow`, also what the official TensorFlow
 *   container images install): `libtensorflow_cc.so.2` exports the C API (`TF_*`, `TFE_*`), next
 *   to `libtensorflow_framework.so.2`, headers under `include/`;
 * - an extracted libtensorflow archive (`lib/libtensorflow.so.2`, `include/tensorflow/c/`);
 * - either of those reached from a folder above it (a venv, a site-packages folder, /usr/local).
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";

export interface TensorflowLibrary {
  /** Which layout it was found in. */
  kind: "pip" | "libtensorflow";
  /** The folder the layout was recognised in. */
  root: string;
  /** Holds tensorflow/c/c_api.h and tensorflow/c/eager/c_api.h. */
  includeDir: string;
  /** The library that exports the C API (linked as -ltensorflow). */
  cLibrary: string;
  /** libtensorflow_framework.so.2, which the C library needs at run time. */
  frameworkLibrary: string;
  /** "2.21.0" when the layout records it (dist-info, archive file name, version.h), else undefined. */
  version?: string;
}

/** The oldest TensorFlow C API tfjs-node 4.22's binding was written against (its download is 2.9.1). */
export const MIN_TENSORFLOW_VERSION = [2, 9] as const;

export class TensorflowLibraryError extends Error {
  readonly code = "TENSORFLOW_LIBRARY";
}

const HEADERS = ["tensorflow/c/c_api.h", "tensorflow/c/eager/c_api.h"];

/** Recognises a TensorFlow C library in `dir` or in the usual places below it; throws saying what is missing. */
export function findTensorflowLibrary(dir: string): TensorflowLibrary {
  const root = path.resolve(dir);
  if (!existsSync(root)) throw new TensorflowLibraryError(`--from ${dir}: no such folder`);
  const candidates = [root, path.join(root, "tensorflow"), ...sitePackagesBelow(root).map((sp) => path.join(sp, "tensorflow"))];
  const notes: string[] = [];
  for (const candidate of candidates) {
    const found = recognise(candidate, notes);
    if (found) return found;
  }
  throw new TensorflowLibraryError(
    `no TensorFlow C library in ${root}: expected a pip TensorFlow package folder (libtensorflow_cc.so.2, ` +
      `libtensorflow_framework.so.2, include/tensorflow/c/c_api.h), a folder holding one (site-packages, a venv) ` +
      `or an extracted libtensorflow archive (lib/libtensorflow.so.2, include/tensorflow/c/c_api.h)` +
      (notes.length > 0 ? `; ${notes.join("; ")}` : ""),
  );
}

function recognise(dir: string, notes: string[]): TensorflowLibrary | undefined {
  if (!existsSync(dir)) return undefined;
  const pip = { cLibrary: path.join(dir, "libtensorflow_cc.so.2"), lib: dir, include: path.join(dir, "include") };
  const archive = { cLibrary: path.join(dir, "lib", "libtensorflow.so.2"), lib: path.join(dir, "lib"), include: path.join(dir, "include") };
  for (const [kind, layout] of [["pip", pip], ["libtensorflow", archive]] as const) {
    if (!existsSync(layout.cLibrary)) continue;
    const frameworkLibrary = path.join(layout.lib, "libtensorflow_framework.so.2");
    const missing = [frameworkLibrary, ...HEADERS.map((h) => path.join(layout.include, h))].filter((f) => !existsSync(f));
    if (missing.length > 0) {
      notes.push(`${layout.cLibrary} is there but ${missing.join(", ")} ${missing.length === 1 ? "is" : "are"} missing`);
      continue;
    }
    const version = kind === "pip" ? pipVersion(dir) : archiveVersion(layout.lib, layout.include);
    return { kind, root: dir, includeDir: layout.include, cLibrary: layout.cLibrary, frameworkLibrary, version };
  }
  return undefined;
}

/** lib/python3.X/site-packages (venv, /usr/local) and lib/python3/dist-packages (Debian, the TF images) below root. */
function sitePackagesBelow(root: string): string[] {
  const lib = path.join(root, "lib");
  if (!existsSync(lib)) return [];
  const found: string[] = [];
  for (const entry of readdirSync(lib)) {
    if (!entry.startsWith("python3")) continue;
    for (const leaf of ["site-packages", "dist-packages"]) {
      const sp = path.join(lib, entry, leaf);
      if (existsSync(sp)) found.push(sp);
    }
  }
  return found;
}

/** pip records the version in a sibling tensorflow[_cpu|_gpu|...]-X.Y.Z.dist-info folder. */
function pipVersion(packageDir: string): string | undefined {
  const parent = path.dirname(packageDir);
  const infos = readdirSync(parent).filter((e) => /^(tensorflow|tf_nightly)[a-z_-]*-\d+\.\d+\.\d+.*\.dist-info$/i.test(e));
  const match = infos.map((e) => /-(\d+\.\d+\.\d+)/.exec(e)?.[1]).find((v) => v !== undefined);
  return match;
}

/** An archive names its library libtensorflow.so.2.X.Y; older ones also define TF_*_VERSION in version.h. */
function archiveVersion(libDir: string, includeDir: string): string | undefined {
  const named = readdirSync(libDir).map((e) => /^libtensorflow\.so\.(\d+\.\d+\.\d+)$/.exec(e)?.[1]).find((v) => v !== undefined);
  if (named) return named;
  const header = path.join(includeDir, "tensorflow/core/public/version.h");
  if (!existsSync(header)) return undefined;
  const text = readFileSync(header, "utf8");
  const part = (name: string) => new RegExp(`#define TF_${name}_VERSION (\\d+)`).exec(text)?.[1];
  const [major, minor, patch] = [part("MAJOR"), part("MINOR"), part("PATCH")];
  return major && minor && patch ? `${major}.${minor}.${patch}` : undefined;
}

/** Throws when a known version is older than the C API the binding needs. */
export function checkTensorflowVersion(library: TensorflowLibrary): void {
  if (library.version === undefined) return;
  const [major, minor] = library.version.split(".").map(Number);
  const [minMajor, minMinor] = MIN_TENSORFLOW_VERSION;
  if (major < minMajor || (major === minMajor && minor < minMinor)) {
    throw new TensorflowLibraryError(
      `TensorFlow ${library.version} at ${library.root} is too old: tfjs-node's binding needs the C API of TensorFlow ${minMajor}.${minMinor} or later`,
    );
  }
}
