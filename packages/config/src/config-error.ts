/** One problem found in a config file: where (dotted key path) and what. */
export interface ConfigIssue {
  /** Dotted key path such as `hyperparams.global.rounds`; "" for the file as a whole. */
  path: string;
  /** What was wrong and what was expected, without the file and path prefix. */
  message: string;
}

export type ConfigErrorCode = "CONFIG_INVALID" | "CONFIG_NOT_FOUND" | "CONFIG_SYNTAX";

export interface ConfigErrorOptions {
  /** 1-based line of a YAML syntax error. */
  line?: number;
  /** 1-based column of a YAML syntax error. */
  column?: number;
  cause?: unknown;
}

/**
 * The only error this package throws. All problems of one file are gathered into one error so
 * that a user fixes a config in one pass instead of one restart per typo.
 */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  readonly code: ConfigErrorCode;
  /** The config file as the caller named it. */
  readonly file: string;
  /** Key path of the first issue ("" when the problem is the file itself). */
  readonly path: string;
  readonly issues: ConfigIssue[];
  readonly line?: number;
  readonly column?: number;

  constructor(code: ConfigErrorCode, file: string, issues: ConfigIssue[], options: ConfigErrorOptions = {}) {
    super(formatIssues(file, issues), options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.file = file;
    this.issues = issues;
    this.path = issues[0]?.path ?? "";
    if (options.line !== undefined) this.line = options.line;
    if (options.column !== undefined) this.column = options.column;
  }
}

/** One line per issue, each prefixed with the file so any line can be grepped on its own. */
export function formatIssue(file: string, issue: ConfigIssue): string {
  return issue.path === "" ? `${file}: ${issue.message}` : `${file}: ${issue.path}: ${issue.message}`;
}

export function formatIssues(file: string, issues: readonly ConfigIssue[]): string {
  if (issues.length === 1) return formatIssue(file, issues[0]!);
  const lines = issues.map((issue) => `  ${formatIssue(file, issue)}`);
  return [`${file}: ${issues.length} problems:`, ...lines].join("\n");
}
