/**
 * A failed read or write of a file, with the path in its message. Node's errors from calls on an
 * open file handle (write, fsync) carry no path ("ENOSPC: no space left on device, write"), which
 * leaves an operator guessing which disk filled up; every file the run directory's writers touch
 * goes through `withPath`, so each such error names its file. `code` stays Node's (ENOSPC, EROFS,
 * EIO, ...) and `exitCode` says a restart may repair it (1), unlike a config error (2).
 */
export class FileIOError extends Error {
  override readonly name = "FileIOError";
  /** Node's error code (`ENOSPC`, `EACCES`, `EROFS`, `EIO`, ...), or `EIO` when there was none. */
  readonly code: string;
  /** Disk faults are for a restart once the disk is fixed: exit code 1 (see the README's exit codes). */
  readonly exitCode = 1;

  constructor(readonly path: string, readonly operation: string, cause: unknown) {
    const code = (cause as NodeJS.ErrnoException | undefined)?.code ?? "EIO";
    const reason = cause instanceof Error ? cause.message : String(cause);
    super(`cannot ${operation} ${path}: ${reason}`, { cause });
    this.code = code;
  }
}

/** True for Node's errors from the operating system (they carry a `syscall`), as opposed to the program's own. */
export function isSystemError(error: unknown): error is NodeJS.ErrnoException {
  return error instanceof Error && typeof (error as NodeJS.ErrnoException).syscall === "string";
}

/** Runs `action`; an operating-system error it throws comes out as a FileIOError naming `path`. */
export async function withPath<T>(path: string, operation: string, action: () => Promise<T>): Promise<T> {
  try {
    return await action();
  } catch (error) {
    throw isSystemError(error) ? new FileIOError(path, operation, error) : error;
  }
}
