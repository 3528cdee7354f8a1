import { isPlainObject } from "./key-path.js";

export const REDACTED = "[redacted]";

/** Keys whose values are secrets wherever they appear. */
const SECRET_KEYS = new Set(["token"]);

export function isSecretKey(key: string): boolean {
  return SECRET_KEYS.has(key);
}

/**
 * A deep copy of a config with every token replaced, for logging the effective config. Works on
 * normalized configs and raw YAML alike, so no new secret-bearing field can slip past by type.
 */
export function redact<T>(config: T): T {
  return copy(config) as T;
}

function copy(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(copy);
  if (!isPlainObject(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value)) {
    out[key] = SECRET_KEYS.has(key) && typeof inner === "string" ? REDACTED : copy(inner);
  }
  return out;
}
