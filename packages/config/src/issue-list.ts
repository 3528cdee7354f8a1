import { ConfigError, type ConfigIssue } from "./config-error.js";
import { describeValue, formatPath, type PathSegment } from "./key-path.js";

/**
 * Collects the semantic problems found after schema validation (cross-field rules, environment
 * variables, spec files), so they are reported together with one ConfigError.
 */
export class IssueList {
  readonly issues: ConfigIssue[] = [];

  add(path: readonly PathSegment[], message: string): void {
    this.issues.push({ path: formatPath(path) === "(root)" ? "" : formatPath(path), message });
  }

  /** Adds `got <value>, expected <what>`, the shape of most messages. */
  got(path: readonly PathSegment[], value: unknown, expected: string): void {
    this.add(path, `got ${describeValue(value)}, expected ${expected}`);
  }

  missing(path: readonly PathSegment[], expected: string): void {
    this.add(path, `missing required key, expected ${expected}`);
  }

  get empty(): boolean {
    return this.issues.length === 0;
  }

  throwIfAny(file: string): void {
    if (!this.empty) throw new ConfigError("CONFIG_INVALID", file, this.issues);
  }
}
