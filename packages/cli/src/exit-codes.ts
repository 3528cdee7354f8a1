import { ConfigError } from "@cohort/config";
import { isSystemError } from "@cohort/tensors";

/**
 * The exit codes of every `cohort` command (the README's table). The split is what a supervisor
 * needs: 1 means "a restart may repair it" (a failed round, a full disk, an I/O error; the
 * aggregator resumes from its last checkpoint), 2 means "restarting will fail the same way until
 * a person changes a setting or a file" (config, model, data, certificate, key permissions,
 * command line). A supervisor restarts on 1 and alerts on 2.
 */
export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_INPUT = 2;

/** A problem with what the user gave (a file, a setting): exit code 2; the message says what to change. */
export class InputError extends Error {
  override readonly name = "InputError";
  readonly code = "INPUT";
  readonly exitCode = EXIT_INPUT;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/**
 * The exit code for an error that ended a command. An error may say it itself (`exitCode`: the
 * run directory's FileIOError 1, OutputDirError 2, a certificate refusal 2); config errors are 2;
 * other errors from the operating system (disk, network) are 1; Cohort's own input errors (model,
 * data, npy, certs: each carries a string `code`) are 2; anything else, a bug or an unforeseen
 * failure, is 1.
 */
export function exitCodeFor(error: unknown): number {
  const declared = (error as { exitCode?: unknown } | undefined)?.exitCode;
  if (declared === EXIT_FAILED || declared === EXIT_INPUT) return declared;
  if (error instanceof ConfigError) return EXIT_INPUT;
  if (isSystemError(error)) return EXIT_FAILED;
  if (error instanceof Error && typeof (error as { code?: unknown }).code === "string") return EXIT_INPUT;
  return EXIT_FAILED;
}

/**
 * Runs the loading of an input (model, data, the check of one against the other): whatever
 * fails there (a corrupt h5, a refused pickle, an ONNX graph it cannot import) is the input's
 * fault and ends the command with exit code 2, however the loader reported it.
 */
export async function loadingInput<T>(what: string, load: () => Promise<T> | T): Promise<T> {
  try {
    return await load();
  } catch (error) {
    if (exitCodeFor(error) === EXIT_INPUT) throw error;
    throw new InputError(`${what}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
}

/**
 * Logs what ends a service as one `fatal` event (the path, Node's code and the exit code as
 * fields), so that a full disk or a refused certificate shows in the log stream operators watch,
 * not only as a line on stderr.
 */
export function logFatal(log: { error: (fields: Record<string, unknown>, message: string) => void }, error: unknown): void {
  const { code, path } = (error ?? {}) as { code?: unknown; path?: unknown };
  const exitCode = exitCodeFor(error);
  log.error({
    phase: "fatal", exit_code: exitCode,
    ...(typeof code === "string" ? { code } : {}), ...(typeof path === "string" ? { file: path } : {}),
    // A stack only for what is not the user's to fix and is not a plain disk fault.
    ...(exitCode === EXIT_FAILED && !isSystemError(error) && !(error as { exitCode?: unknown }).exitCode ? { err: error } : {}),
  }, error instanceof Error ? error.message : String(error));
}
