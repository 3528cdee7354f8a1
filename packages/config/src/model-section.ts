import { dirname, isAbsolute } from "node:path";
import { z } from "zod";
import { ConfigError } from "./config-error.js";
import { IssueList } from "./issue-list.js";
import { isPlainObject, type PathSegment } from "./key-path.js";
import { ignoredKey, mapping, section, text } from "./schema-helpers.js";
import { validate } from "./validate.js";
import { readYamlFileSync } from "./yaml-file.js";
import { type ResolvedPath, SPEC_PATH_KEYS, resolvePathWithFallback, resolveSectionPaths } from "./path-fallback.js";

/**
 * The `model` section shared by party and aggregator configs. Spec keys (model_definition,
 * model_weights, custom_objects, ...) belong to the model loaders, which validate them; here we
 * only find the spec and the directory its relative paths are relative to.
 */
export interface ModelSection {
  /** KerasFLModel, TensorFlowFLModel, PytorchFLModel, TfjsModel, TfjsModuleModel, OnnxModel, ... */
  name: string;
  spec: Record<string, unknown>;
  /** Absolute directory that relative paths inside `spec` resolve against. */
  specBaseDir: string;
  /** Absolute path of the spec file when the spec was given as a file. */
  specFile?: string;
}

const SPEC_EXPECTED = "a mapping or the path of a YAML/JSON spec file";

const specValue = () => z.union([text("a spec file path"), mapping()], { error: `expected ${SPEC_EXPECTED}` });

export const modelSchema = section({
  name: text("a model class name such as KerasFLModel or TfjsModuleModel"),
  // IBM FL module path (ibmfl.model.keras_fl_model); there is no Python module to import here.
  path: ignoredKey(),
  spec: specValue().optional(),
  // IBM FL examples put the spec under `info` as often as under `spec`: same meaning.
  info: specValue().optional(),
});

export type RawModelSection = z.infer<typeof modelSchema>;

/**
 * Resolves the spec (inline or file) of a validated model section. Problems go to `issues`;
 * the result is undefined when there were any.
 */
export function normalizeModel(
  raw: RawModelSection,
  path: readonly PathSegment[],
  baseDir: string,
  issues: IssueList,
  ignored: string[],
  resolved: ResolvedPath[] = [],
  cwd?: string,
): ModelSection | undefined {
  if (raw.path !== undefined) ignored.push([...path, "path"].join("."));
  if (raw.spec !== undefined && raw.info !== undefined) {
    issues.add([...path, "info"], "got both spec and info, expected the model spec under only one of them");
    return undefined;
  }
  const key = raw.spec !== undefined ? "spec" : "info";
  const spec = raw.spec ?? raw.info;
  if (spec === undefined) {
    issues.missing([...path, "spec"], `${SPEC_EXPECTED} (IBM FL's model.info is accepted too)`);
    return undefined;
  }
  const keyPath = [...path, key].join(".");
  const withPaths = (values: Record<string, unknown>, dir: string) =>
    resolveSectionPaths(values, SPEC_PATH_KEYS, keyPath, dir, resolved, { withCustomObjects: true, cwd });
  if (typeof spec !== "string") return { name: raw.name, spec: withPaths(spec, baseDir), specBaseDir: baseDir };

  const choice = resolvePathWithFallback(spec, baseDir, cwd);
  const specFile = choice.path;
  if (!isAbsolute(spec)) resolved.push({ key: keyPath, written: spec, ...choice });
  let loaded: unknown;
  try {
    loaded = readYamlFileSync(specFile, specFile);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    const why = error.issues.map((issue) => issue.message.split("\n")[0]).join("; ");
    issues.add([...path, key], `spec file ${specFile}: ${why.replace(/, expected .*$/, "")}, expected ${error.code === "CONFIG_SYNTAX" ? "valid YAML or JSON" : "an existing YAML or JSON spec file"}`);
    return undefined;
  }
  if (!isPlainObject(loaded)) {
    issues.add([...path, key], `spec file ${specFile} holds ${Array.isArray(loaded) ? "a list" : String(loaded)}, expected a mapping of spec keys`);
    return undefined;
  }
  return { name: raw.name, spec: withPaths(loaded, dirname(specFile)), specBaseDir: dirname(specFile), specFile };
}

/**
 * A `model` section on its own, outside a config (the CLI's `cohort model SPEC`): validated
 * and resolved exactly as in a config; `path` is where it sits in its file (["model"] in a
 * config, [] for a file that is just the section). Throws one ConfigError with every problem.
 */
export function parseModelSection(raw: unknown, file: string, baseDir: string, path: readonly PathSegment[] = []): { model: ModelSection; ignored: string[] } {
  const parsed = validate(modelSchema, raw, file);
  const issues = new IssueList();
  const ignored: string[] = [];
  const model = normalizeModel(parsed, path, baseDir, issues, ignored);
  issues.throwIfAny(file);
  return { model: model!, ignored };
}
