import type { IssueList } from "./issue-list.js";
import { DATA_PATH_KEYS, type ResolvedPath, resolvePathWithFallback, resolveSectionPaths } from "./path-fallback.js";

/** A `data` section (party, or the aggregator's held-out data), validated; paths absolute. */
export interface DataSection {
  /** A built-in handler (mnist, npz, csv, IBM FL's Mnist*DataHandler) or, with `module`, the user's name for theirs. */
  name: string;
  /** Passed to the handler; its file keys (npz_file, ...) already absolute. */
  info: Record<string, unknown>;
  /** Directory the handler resolves any other relative path against (the config's folder). */
  baseDir: string;
  /** Absolute path of a JS data handler module (data.path: handler.mjs), IBM FL's custom data handler counterpart. */
  module?: string;
}

export interface RawDataSection {
  name: string;
  path?: string | undefined;
  info: Record<string, unknown>;
}

const JS_MODULE = /\.(mjs|cjs|js)$/i;

/** What to write instead of IBM FL's Python data handler class. */
export const PYTHON_HANDLER_HELP =
  "Cohort runs no Python: write the handler as a JS module whose default export receives {info, baseDir} and returns " +
  "{train: {x, xShape, y, yShape}, test: {x, xShape, y, yShape}} (x a Float32Array, y an Int32Array of class ids), and name it " +
  "in data.path (e.g. custom_data_handler.mjs); see the README, 'Custom data handlers'";

/**
 * IBM FL's `data.path` is the Python module of the handler class: an `ibmfl.` module path is
 * accepted and ignored (the handler is built in), a `.py` file is an error saying how to write
 * the JS counterpart, and a `.mjs`/`.js` file is that counterpart.
 */
export function normalizeData(raw: RawDataSection, baseDir: string, issues: IssueList, ignored: string[], resolved: ResolvedPath[], prefix = "data", cwd?: string): DataSection {
  const info = resolveSectionPaths(raw.info, DATA_PATH_KEYS, `${prefix}.info`, baseDir, resolved, { cwd });
  const section: DataSection = { name: raw.name, info, baseDir };
  const written = raw.path;
  if (written === undefined) return section;
  if (isPythonHandler(written)) {
    addPythonHandlerIssue(written, raw.name, issues, prefix);
  } else if (JS_MODULE.test(written)) {
    const choice = resolvePathWithFallback(written, baseDir, cwd);
    resolved.push({ key: `${prefix}.path`, written, ...choice });
    section.module = choice.path;
  } else {
    ignored.push(`${prefix}.path`);
  }
  return section;
}

export function isPythonHandler(path: unknown): path is string {
  return typeof path === "string" && /\.py$/i.test(path);
}

/** The error for IBM FL's Python data handler file, also raised on a document the schema refused. */
export function addPythonHandlerIssue(written: string, name: unknown, issues: IssueList, prefix = "data"): void {
  issues.add([prefix, "path"], `got "${written}", a Python data handler (IBM FL's ${typeof name === "string" ? name : "custom"} class); ${PYTHON_HANDLER_HELP}`);
}
