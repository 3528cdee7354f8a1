import type { z } from "zod";
import { ConfigError } from "./config-error.js";
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
