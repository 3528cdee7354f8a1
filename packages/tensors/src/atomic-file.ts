import { mkdir, open, rename, rm } from "node:fs/promises";
import { dirname } from "node:path";
import { withPath } from "./file-io-error.js";

/**
 * Writes a file so that a crash leaves either the old content or the new one, never a torn
 * file: write a temporary sibling, fsync it, rename it over the target, fsync the directory.
 */
export async function atomicWriteFile(path: string, data: Uint8Array | string): Promise<void> {
  await atomicWriteSlices(path, [typeof data === "string" ? Buffer.from(data) : data]);
}

/**
 * atomicWriteFile for content produced in slices (each consumed before the next is asked for,
 * so a producer may reuse its buffer): the whole content is never in memory. `check` sees the
 * total size before the fsync and may throw to abandon the write (the temporary is removed).
 */
export async function atomicWriteSlices(
  path: string,
  slices: Iterable<Uint8Array> | AsyncIterable<Uint8Array>,
  check?: (size: number) => void,
): Promise<{ size: number; writeMs: number; syncMs: number }> {
  const started = Date.now();
  await withPath(dirname(path), "create the folder", () => mkdir(dirname(path), { recursive: true }));
  const temporary = `${path}.tmp-${process.pid}-${Date.now()}`;
  const file = await withPath(temporary, "create", () => open(temporary, "w"));
  let size = 0;
  let synced: number;
  try {
    for await (const slice of slices) {
      for (let done = 0; done < slice.byteLength;) {
        const { bytesWritten } = await withPath(temporary, "write", () => file.write(slice, done, slice.byteLength - done, size + done));
        done += bytesWritten;
      }
      size += slice.byteLength;
    }
    check?.(size);
    synced = Date.now();
    await withPath(temporary, "fsync", () => file.sync());
  } catch (error) {
    await file.close().catch(() => undefined);
    await rm(temporary, { force: true });
    throw error;
  }
  await withPath(temporary, "close", () => file.close());
  await withPath(path, "rename a temporary file to", () => rename(temporary, path));
  await syncDirectory(dirname(path));
  return { size, writeMs: synced - started, syncMs: Date.now() - synced };
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
  await withPath(dirname(path), "create the folder", () => mkdir(dirname(path), { recursive: true }));
  const file = await withPath(path, "open for appending", () => open(path, "a"));
  try {
    const before = (await file.stat()).size;
    try {
      await withPath(path, "append to", () => file.write(line.endsWith("\n") ? line : `${line}\n`));
      await withPath(path, "fsync", () => file.sync());
    } catch (error) {
      // A full disk can take part of the line: cut it off, so the file stays whole lines.
      await file.truncate(before).catch(() => undefined);
      throw error;
    }
  } finally {
    await file.close();
  }
}
