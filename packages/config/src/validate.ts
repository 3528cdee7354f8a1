import type { z } from "zod";
import { ConfigError, type ConfigIssue } from "./config-error.js";
import { fromZodIssues } from "./zod-issues.js";

/**
 * Schema validation of a whole config document: every problem at once, as one ConfigError.
 * `file` is the name used in messages.
 */
export function validate<S extends z.ZodType>(schema: S, raw: unknown, file: string): z.output<S> {
  if (raw === undefined || raw === null) {
    throw new ConfigError("CONFIG_INVALID", file, [{ path: "", message: "the document is empty, expected a mapping of config keys" }]);
  }
  const result = schema.safeParse(raw);
  if (result.success) return result.data;
  throw new ConfigError("CONFIG_INVALID", file, fromZodIssues(result.error.issues, raw, schema));
}

/**
 * Like validate, but hands the schema's problems back instead of throwing, so that a caller can
 * add the checks it makes on the raw document (a missing party name, token) and report
 * everything in one error.
 */
export function validateCollecting<S extends z.ZodType>(schema: S, raw: unknown, file: string): { ok: true; data: z.output<S> } | { ok: false; issues: ConfigIssue[] } {
  if (raw === undefined || raw === null) return { ok: false, issues: [{ path: "", message: "the document is empty, expected a mapping of config keys" }] };
  const result = schema.safeParse(raw);
  if (result.success) return { ok: true, data: result.data };
  void file;
  return { ok: false, issues: fromZodIssues(result.error.issues, raw, schema) };
}
