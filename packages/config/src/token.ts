import type { IssueList } from "./issue-list.js";
import type { PathSegment } from "./key-path.js";

/** Tokens shorter than this are guessable; the aggregator's allow-list relies on them. */
export const MIN_TOKEN_LENGTH = 8;

export interface TokenSource {
  token?: string | undefined;
  token_env?: string | undefined;
}

/**
 * A token given inline or through `token_env` (the name of an environment variable), so that
 * committed configs need not hold secrets. Exactly one of the two must be given.
 */
export function resolveToken(source: TokenSource, path: readonly PathSegment[], issues: IssueList, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const { token, token_env: variable } = source;
  if (token !== undefined && variable !== undefined) {
    issues.add([...path, "token_env"], "got both token and token_env, expected only one of them");
    return undefined;
  }
  if (variable !== undefined) {
    const value = env[variable];
    if (value === undefined || value === "") {
      issues.add([...path, "token_env"], `environment variable ${variable} is not set, expected it to hold the token`);
      return undefined;
    }
    if (value.length < MIN_TOKEN_LENGTH) {
      issues.add([...path, "token_env"], `environment variable ${variable} holds ${value.length} characters, expected a token of at least ${MIN_TOKEN_LENGTH}`);
      return undefined;
    }
    return value;
  }
  if (token === undefined) {
    issues.missing([...path, "token"], `a token of at least ${MIN_TOKEN_LENGTH} characters (or token_env naming an environment variable that holds it)`);
  }
  return token;
}
