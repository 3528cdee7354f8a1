import type { z } from "zod";
import type { ConfigIssue } from "./config-error.js";
import { describeValue, formatPath, valueAt, type PathSegment } from "./key-path.js";
import { isSecretKey } from "./redact.js";
import { closestKey } from "./suggest.js";

/**
 * Turns zod's issues into messages in this package's voice: `<path>: got <value>, expected
 * <what>`. Every schema leaf in this package carries an `expected ...` error text (see
 * schema-helpers.ts); this file adds the "got" half from the raw input and the "did you mean"
 * for unknown keys, which zod cannot know.
 */

/** The parts of zod's internal definition we walk; wrappers differ only in where the inner schema sits. */
interface SchemaDef {
  type: string;
  innerType?: ZodLike;
  in?: ZodLike;
  shape?: Record<string, ZodLike>;
  element?: ZodLike;
  options?: ZodLike[];
}
interface ZodLike {
  _zod: { def: SchemaDef };
}

const WRAPPERS = new Set(["optional", "default", "prefault", "nullable", "readonly", "catch", "nonoptional"]);

function unwrap(schema: ZodLike): ZodLike {
  let current = schema;
  for (;;) {
    const def = current._zod.def;
    if (WRAPPERS.has(def.type) && def.innerType !== undefined) current = def.innerType;
    else if (def.type === "pipe" && def.in !== undefined) current = def.in;
    else return current;
  }
}

/** The keys an object schema at `path` accepts (union members merged), for suggestions. */
export function knownKeysAt(schema: z.ZodType, path: readonly PathSegment[]): string[] {
  let candidates: ZodLike[] = [schema as unknown as ZodLike];
  for (const segment of path) {
    const next: ZodLike[] = [];
    for (const candidate of candidates.flatMap(expandUnion)) {
      const def = candidate._zod.def;
      if (typeof segment === "number" && def.type === "array" && def.element) next.push(def.element);
      if (typeof segment === "string" && def.type === "object" && def.shape?.[segment]) next.push(def.shape[segment]);
    }
    candidates = next;
  }
  const keys = candidates.flatMap(expandUnion).flatMap((c) => (c._zod.def.type === "object" ? Object.keys(c._zod.def.shape ?? {}) : []));
  return [...new Set(keys)];
}

function expandUnion(schema: ZodLike): ZodLike[] {
  const inner = unwrap(schema);
  const def = inner._zod.def;
  return def.type === "union" && def.options ? def.options.flatMap(expandUnion) : [inner];
}

const MAX_LISTED_KEYS = 12;

function unknownKeyMessage(key: string, known: readonly string[]): string {
  const suggestion = closestKey(key, known);
  if (suggestion !== undefined) return `unknown key (did you mean "${suggestion}"?)`;
  if (known.length === 0) return "unknown key, expected no keys here";
  const listed = known.slice(0, MAX_LISTED_KEYS).map((k) => `"${k}"`).join(", ");
  return `unknown key, expected one of ${listed}${known.length > MAX_LISTED_KEYS ? ", ..." : ""}`;
}

/** Maps zod issues for `input` validated by `schema` to ConfigIssues (one per unknown key). */
export function fromZodIssues(issues: readonly z.core.$ZodIssue[], input: unknown, schema: z.ZodType): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  for (const issue of issues) {
    const path = issue.path.filter((s): s is PathSegment => typeof s !== "symbol");
    if (issue.code === "unrecognized_keys") {
      const known = knownKeysAt(schema, path);
      for (const key of issue.keys) out.push({ path: formatPath([...path, key]), message: unknownKeyMessage(key, known) });
      continue;
    }
    const value = valueAt(input, path);
    const what = issue.message.startsWith("expected ") ? issue.message : `expected a valid value (${issue.message})`;
    const got = value === undefined ? "missing required key" : `got ${describeSafely(path, value)}`;
    out.push({ path: path.length === 0 ? "" : formatPath(path), message: `${got}, ${what}` });
  }
  return out;
}

/** Never echo a secret into a message that ends up in logs, even a rejected one. */
function describeSafely(path: readonly PathSegment[], value: unknown): string {
  const key = path[path.length - 1];
  if (typeof key === "string" && isSecretKey(key) && typeof value === "string") return `a string of ${value.length} characters`;
  return describeValue(value);
}
