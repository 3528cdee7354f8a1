import { closeSync, openSync, readFileSync, readSync } from "node:fs";
import { readFile, readdir } from "node:fs/promises";
import { join } from "node:path";

/** Largest mapping read at once; bigger ones are read in pieces. */
const PIECE_BYTES = 64 * 1024 * 1024;
/** Overlap between pieces so that a needle across a boundary is still found. */
const OVERLAP_BYTES = 4096;

/**
 * Which of `needles` occur anywhere in the writable memory of process `pid` (its heap, V8's
 * spaces, WebAssembly memories, array buffers: every rw mapping in /proc/pid/maps), read through
 * /proc/pid/mem. Linux only; the caller must be allowed to trace the process (its parent is).
 */
export function needlesInProcessMemory(pid: number, needles: readonly Buffer[]): { found: Set<number>; bytesScanned: number } {
  const found = new Set<number>();
  let bytesScanned = 0;
  const fd = openSync(`/proc/${pid}/mem`, "r");
  try {
    for (const line of readFileSync(`/proc/${pid}/maps`, "utf8").trim().split("\n")) {
      const [range, perms] = line.split(/\s+/);
      if (!perms.startsWith("rw")) continue;
      const [start, end] = range.split("-").map((h) => Number.parseInt(h, 16));
      for (let at = start; at < end; at += PIECE_BYTES) {
        const length = Math.min(PIECE_BYTES + OVERLAP_BYTES, end - at);
        const buffer = Buffer.alloc(length);
        let read: number;
        try {
          read = readSync(fd, buffer, 0, length, at);
        } catch {
          break; // a guard page or a mapping that went away
        }
        bytesScanned += read;
        const view = buffer.subarray(0, read);
        needles.forEach((needle, i) => { if (!found.has(i) && view.includes(needle)) found.add(i); });
      }
    }
  } finally {
    closeSync(fd);
  }
  return { found, bytesScanned };
}

/** Which of `needles` occur in any file under `dir` (recursively). */
export async function needlesInFiles(dir: string, needles: readonly Buffer[]): Promise<{ found: Set<number>; files: number }> {
  const found = new Set<number>();
  let files = 0;
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const bytes = await readFile(join(entry.parentPath, entry.name)).catch(() => undefined);
    if (!bytes) continue;
    files++;
    needles.forEach((needle, i) => { if (bytes.includes(needle)) found.add(i); });
  }
  return { found, files };
}
