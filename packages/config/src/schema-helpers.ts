import { z } from "zod";

/**
 * Schema leaves that carry their own `expected ...` text. zod's default messages ("Invalid
 * input: expected number, received string") say neither the allowed range nor the unit; these
 * do, and zod-issues.ts prefixes what was found.
 */

export function integer(min: number, max?: number, unit = "") {
  const suffix = unit === "" ? "" : ` (${unit})`;
  const expected = max === undefined ? `expected an integer >= ${min}${suffix}` : `expected an integer from ${min} to ${max}${suffix}`;
  const base = z.number({ error: expected }).int({ error: expected }).min(min, { error: expected });
  return max === undefined ? base : base.max(max, { error: expected });
}

/** A finite number in a range; `exclusiveMin`/`exclusiveMax` choose open ends. */
export function number(range: { min?: number; max?: number; exclusiveMin?: boolean; exclusiveMax?: boolean; unit?: string }) {
  const low = range.min === undefined ? "" : range.exclusiveMin ? `> ${range.min}` : `>= ${range.min}`;
  const high = range.max === undefined ? "" : range.exclusiveMax ? `< ${range.max}` : `<= ${range.max}`;
  const bounds = [low, high].filter((b) => b !== "").join(" and ");
  const unit = range.unit === undefined ? "" : ` (${range.unit})`;
  const expected = `expected a number${bounds === "" ? "" : ` ${bounds}`}${unit}`;
  let schema = z.number({ error: expected });
  if (range.min !== undefined) schema = range.exclusiveMin ? schema.gt(range.min, { error: expected }) : schema.min(range.min, { error: expected });
  if (range.max !== undefined) schema = range.exclusiveMax ? schema.lt(range.max, { error: expected }) : schema.max(range.max, { error: expected });
  return schema;
}

export function text(what = "a non-empty string", minLength = 1) {
  const expected = `expected ${what}`;
  return z.string({ error: expected }).min(minLength, { error: expected });
}

export function flag() {
  return z.boolean({ error: "expected true or false" });
}

export function oneOf<const T extends readonly [string, ...string[]]>(values: T) {
  return z.enum(values, { error: `expected one of ${values.map((v) => `"${v}"`).join(", ")}` });
}

/** A free-form mapping whose keys are checked by someone else (data handlers, model loaders). */
export function mapping(what = "a mapping") {
  return z.record(z.string(), z.unknown(), { error: `expected ${what}` });
}

/** Strict object: an unknown key is an error, reported with a "did you mean". */
export function section<T extends z.core.$ZodLooseShape>(shape: T, what = "a mapping") {
  return z.strictObject(shape, { error: `expected ${what}` });
}

/** Keys accepted for IBM FL compatibility and otherwise ignored (their values are not checked). */
export function ignoredKey() {
  return z.unknown().optional();
}
