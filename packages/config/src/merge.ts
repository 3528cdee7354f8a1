import { isPlainObject } from "./key-path.js";

/**
 * Applies overrides (command-line flags, tests) onto a loaded config before validation, so an
 * override is checked exactly like a YAML value. Mappings merge key by key; lists and scalars
 * replace; an `undefined` override leaves the YAML value alone.
 */
export function mergeOverrides(base: unknown, overrides: unknown): unknown {
  if (overrides === undefined) return base;
  if (!isPlainObject(base) || !isPlainObject(overrides)) return overrides;
  const merged: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(overrides)) {
    if (value !== undefined) merged[key] = mergeOverrides(base[key], value);
  }
  return merged;
}
