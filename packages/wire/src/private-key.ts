import { readFileSync, statSync } from "node:fs";

/** The command-line flag that lets a service load a private key other users can read. */
export const ALLOW_INSECURE_KEY_FLAG = "--allow-insecure-key-permissions";

/** A private key file that users other than its owner and group may read: exit code 2, with the fix in the message. */
export class KeyPermissionsError extends Error {
  override readonly name = "KeyPermissionsError";
  readonly code = "KEY_PERMISSIONS";
  readonly exitCode = 2;
  constructor(readonly path: string, mode: number) {
    const octal = (mode & 0o777).toString(8).padStart(4, "0");
    super(`${path}: private key is readable by other users (mode ${octal}); run chmod 600 ${path} (640 when the service reads it through its group), or start with ${ALLOW_INSECURE_KEY_FLAG} to accept it`);
  }
}

/**
 * Reads a TLS private key, refusing one that "other" users may read or write (mode bits 0o007):
 * such a key may already be copied, and a service that loads it quietly hides that. Group bits
 * are allowed: Kubernetes mounts secrets 0440 with the pod's fsGroup. `allowInsecure` (the
 * `--allow-insecure-key-permissions` flag) accepts it anyway; Windows has no such bits.
 */
export function readPrivateKey(path: string, allowInsecure = false): Buffer {
  if (!allowInsecure && process.platform !== "win32") {
    const { mode } = statSync(path);
    if ((mode & 0o007) !== 0) throw new KeyPermissionsError(path, mode);
  }
  return readFileSync(path);
}
