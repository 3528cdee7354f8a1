import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { load, YAMLException } from "js-yaml";
import { ConfigError } from "./config-error.js";

/**
 * Reading config and spec files. YAML is a superset of JSON, so one parser serves both, and
 * duplicate keys are syntax errors (js-yaml's default) rather than a silent last-one-wins.
 */

/** Parses YAML text; a syntax error becomes CONFIG_SYNTAX naming the file, line and column. */
export function parseYaml(text: string, file: string): unknown {
  try {
    return load(text, { filename: file });
  } catch (error) {
    if (!(error instanceof YAMLException)) throw error;
    const mark = error.mark;
    // js-yaml counts lines and columns from 0; editors count from 1.
    const line = mark === undefined ? undefined : mark.line + 1;
    const column = mark === undefined ? undefined : mark.column + 1;
    const where = line === undefined ? "" : `line ${line}, column ${column}: `;
    const snippet = mark?.snippet ? `\n${mark.snippet.replace(/\n+$/, "")}` : "";
    const options = { cause: error, ...(line === undefined ? {} : { line }), ...(column === undefined ? {} : { column }) };
    throw new ConfigError("CONFIG_SYNTAX", file, [{ path: "", message: `${where}${error.reason}, expected valid YAML${snippet}` }], options);
  }
}

function notFound(file: string, absolutePath: string, error: unknown): ConfigError {
  const code = (error as NodeJS.ErrnoException).code;
  const why = code === "ENOENT" ? "file not found" : code === "EISDIR" ? "is a directory" : `cannot be read (${code ?? String(error)})`;
  // The absolute path tells which file was looked for when the name given was relative.
  const where = file === absolutePath ? "" : ` (${absolutePath})`;
  return new ConfigError("CONFIG_NOT_FOUND", file, [{ path: "", message: `${why}${where}, expected a readable YAML file` }], { cause: error });
}

/** Reads and parses a YAML/JSON file; `file` is the name used in messages. */
export async function readYamlFile(absolutePath: string, file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(absolutePath, "utf8");
  } catch (error) {
    throw notFound(file, absolutePath, error);
  }
  return parseYaml(text, file);
}

/** Synchronous twin, for spec files referenced from inside an already-loaded config. */
export function readYamlFileSync(absolutePath: string, file: string): unknown {
  let text: string;
  try {
    text = readFileSync(absolutePath, "utf8");
  } catch (error) {
    throw notFound(file, absolutePath, error);
  }
  return parseYaml(text, file);
}
