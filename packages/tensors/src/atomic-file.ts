import { open, rename, mkdir } from "node:fs/promises";
import { dirname } from "node:path";

/**
 * Writes a file so that a crash leaves either the old content or the new one, never a torn
 * file: write a temporary sibling, fsync it, rename it over the target, fsync the directory.
 */
export async function atomicWriteFile(path: string, data: Uint8Array | string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const temporary = `${path}.tmp-${process.pid}-${Date.now()}`;
  const file = await open(temporary, "w");
  try {
    await file.writeFile(data);
    await file.sync();
  } finally {
    await file.close();
  }
  await rename(temporary, path);
  await syncDirectory(dirname(path));
}

/** Makes the rename durable; some file systems refuse fsync on a directory, where the rename is still atomic. */
async function syncDirectory(dir: string): Promise<void> {
  try {
    const directory = await open(dir, "r");
    try {
      await directory.sync();
    } finally {
      await directory.close();
    }
  } catch {
    // Durability of the directory entry is best effort; atomicity does not depend on it.
  }
}

/** Appends one line and fsyncs, so a metrics line that was logged is also on disk. */
export async function appendLine(path: string, line: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const file = await open(path, "a");
  try {
    await file.write(line.endsWith("\n") ? line : `${line}\n`);
    await file.sync();
  } finally {
    await file.close();
  }
}
