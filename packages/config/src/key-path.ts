/**
 * Key paths as users see them in messages: `hyperparams.global.rounds`, `parties[1].token`.
 * List indices use brackets because a YAML list has no key names to dot into.
 */
export type PathSegment = string | number;

/** Formats a key path; the empty path is shown as `(root)` so a message never starts with ": ". */
export function formatPath(segments: readonly PathSegment[]): string {
  let out = "";
  for (const segment of segments) {
    if (typeof segment === "number") out += `[${segment}]`;
    else out += out === "" ? segment : `.${segment}`;
  }
  return out === "" ? "(root)" : out;
}

/** Reads the value at a key path, or undefined when any step is missing. */
export function valueAt(root: unknown, segments: readonly PathSegment[]): unknown {
  let current: unknown = root;
  for (const segment of segments) {
    if (current === null || typeof current !== "object") return undefined;
    current = (current as Record<PathSegment, unknown>)[segment];
  }
  return current;
}

/** True for `{...}` mappings (what YAML mappings load as), false for lists, null and class instances. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

const MAX_SHOWN_CHARS = 40;

/** Describes a user-supplied value for a "got ..." clause, short enough for one log line. */
export function describeValue(value: unknown): string {
  if (value === undefined) return "nothing";
  if (value === null) return "null (empty value)";
  if (Array.isArray(value)) return `a list of ${value.length}`;
  if (isPlainObject(value)) return "a mapping";
  if (typeof value === "string") {
    const shown = value.length > MAX_SHOWN_CHARS ? `${value.slice(0, MAX_SHOWN_CHARS)}...` : value;
    return JSON.stringify(shown);
  }
  return String(value);
}
