import { createHash } from "node:crypto";
import { mkdir, open, rename, rm } from "node:fs/promises";
import { dirname } from "node:path";

/** A file of packed global weights as written: where, how many bytes, their SHA-256. */
export interface WeightsFile {
  path: string;
  size: number;
  sha256: string;
}

/** Where the time of a streamed write went: producing + hashing + writing the slices, then fsync + rename. */
export interface WriteTimings {
  writeMs: number;
  syncMs: number;
}

/**
 * Writes `slices` (consumed one at a time: each may be a view of a buffer its producer reuses)
 * to `path` atomically, as atomicWriteFile does with one buffer: a temporary sibling, fsync,
 * rename over the target, fsync of the directory. The SHA-256 is computed on the way, so the
 * whole content never needs to be in memory.
 */
export async function writeWeightsFile(
  path: string,
  slices: Iterable<Uint8Array> | AsyncIterable<Uint8Array>,
  expectedSize?: number,
): Promise<WeightsFile & WriteTimings> {
  const started = Date.now();
  await mkdir(dirname(path), { recursive: true });
  const temporary = `${path}.tmp-${process.pid}-${Date.now()}`;
  const hash = createHash("sha256");
  let size = 0;
  const file = await open(temporary, "w");
  let synced: number;
  try {
    for await (const slice of slices) {
      hash.update(slice);
      for (let done = 0; done < slice.byteLength;) {
        const { bytesWritten } = await file.write(slice, done, slice.byteLength - done, size + done);
        done += bytesWritten;
      }
      size += slice.byteLength;
    }
    if (expectedSize !== undefined && size !== expectedSize) throw new RangeError(`wrote ${size} bytes of weights, expected ${expectedSize}`);
    synced = Date.now();
    await file.sync();
  } catch (error) {
    await file.close().catch(() => undefined);
    await rm(temporary, { force: true });
    throw error;
  }
  await file.close();
  await rename(temporary, path);
  await syncDirectory(dirname(path));
  return { path, size, sha256: hash.digest("hex"), writeMs: synced - started, syncMs: Date.now() - synced };
}

/** SHA-256 and size of a file, read in slices of `sliceBytes` (no whole copy in memory). */
export async function hashFile(path: string, sliceBytes = 4 * 1024 * 1024): Promise<{ size: number; sha256: string }> {
  const file = await open(path, "r");
  try {
    const hash = createHash("sha256");
    const buffer = new Uint8Array(sliceBytes);
    let size = 0;
    for (;;) {
      const { bytesRead } = await file.read(buffer, 0, buffer.byteLength, size);
      if (bytesRead === 0) break;
      hash.update(buffer.subarray(0, bytesRead));
      size += bytesRead;
    }
    return { size, sha256: hash.digest("hex") };
  } finally {
    await file.close();
  }
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
