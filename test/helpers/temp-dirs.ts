import { mkdtempSync, rmSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll } from "vitest";

/**
 * Temporary directories for tests, removed when the test file ends, whether its tests passed or
 * failed. A test run makes hundreds of them (an end-to-end federation's is ~170 MB), so none may
 * be left behind in the OS temp directory.
 *
 * Import this module statically (at the top of a test file or of a helper the file imports
 * statically): the removal hook is registered while the file's tests are being collected. As
 * the first hook of the file, it runs after the file's own afterAll hooks (vitest runs "after"
 * hooks in reverse order), so processes a file stops in its hooks are gone before their
 * directories are removed.
 */
const dirs = new Set<string>();

/** A fresh directory `<os temp dir>/<prefix>XXXXXX`, removed at the end of the test file. */
export async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  dirs.add(dir);
  return dir;
}

/** tempDir for synchronous code (module top level, sync helpers). */
export function tempDirSync(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.add(dir);
  return dir;
}

/** Removes every directory made so far (also called by the file's afterAll hook). */
export async function removeTempDirs(): Promise<void> {
  const all = [...dirs];
  dirs.clear();
  const results = await Promise.allSettled(all.map((dir) => rm(dir, { recursive: true, force: true, maxRetries: 3 })));
  const failed = results.flatMap((r, i) => (r.status === "rejected" ? [`${all[i]}: ${String(r.reason)}`] : []));
  if (failed.length > 0) console.warn(`could not remove temporary directories:\n${failed.join("\n")}`);
}

afterAll(removeTempDirs, 60_000);

// A safety net for a worker that ends without running the hook (e.g. a file whose collection failed).
process.once("exit", () => {
  for (const dir of dirs) {
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // Best effort: the process is exiting.
    }
  }
});
