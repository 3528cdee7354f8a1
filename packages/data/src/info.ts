import { isAbsolute, resolve } from "node:path";
import { DataError } from "./errors.js";

/**
 * Typed reads of a handler's `info` block (the `data.info` mapping of an IBM FL config). Each
 * error names the handler and the key, since that is what the user has to fix.
 */

function bad(where: string, key: string, expected: string, got: unknown): never {
  throw new DataError("data.bad_info", `${where}: info.${key} must be ${expected}, got ${JSON.stringify(got)}`);
}

export function optionalString(info: Record<string, unknown>, key: string, where: string): string | undefined {
  const value = info[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string" || value === "") bad(where, key, "a non-empty string", value);
  return value;
}

export function optionalBoolean(info: Record<string, unknown>, key: string, where: string): boolean | undefined {
  const value = info[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "boolean") bad(where, key, "true or false", value);
  return value;
}

export interface NumberRule {
  integer?: boolean;
  min?: number;
  /** Exclusive upper bound. */
  below?: number;
  max?: number;
}

export function optionalNumber(info: Record<string, unknown>, key: string, where: string, rule: NumberRule = {}): number | undefined {
  const value = info[key];
  if (value === undefined || value === null) return undefined;
  const parts = [rule.integer ? "an integer" : "a number"];
  if (rule.min !== undefined) parts.push(`>= ${rule.min}`);
  if (rule.max !== undefined) parts.push(`<= ${rule.max}`);
  if (rule.below !== undefined) parts.push(`< ${rule.below}`);
  const ok = typeof value === "number" && Number.isFinite(value) && (!rule.integer || Number.isInteger(value)) &&
    (rule.min === undefined || value >= rule.min) && (rule.max === undefined || value <= rule.max) &&
    (rule.below === undefined || value < rule.below);
  if (!ok) bad(where, key, parts.join(" "), value);
  return value as number;
}

export function requiredNumber(info: Record<string, unknown>, key: string, where: string, rule: NumberRule = {}): number {
  const value = optionalNumber(info, key, where, rule);
  if (value === undefined) throw new DataError("data.bad_info", `${where}: info.${key} is required`);
  return value;
}

/** One of a fixed set of strings. */
export function optionalChoice<T extends string>(info: Record<string, unknown>, key: string, where: string, choices: readonly T[]): T | undefined {
  const value = info[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string" || !(choices as readonly string[]).includes(value)) bad(where, key, `one of ${choices.join(", ")}`, value);
  return value as T;
}

/** Relative paths resolve against the config's directory, not the process's working directory. */
export function resolvePath(baseDir: string, path: string): string {
  return isAbsolute(path) ? path : resolve(baseDir, path);
}
