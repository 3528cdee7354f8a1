import { execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll } from "vitest";
import { tempDirSync } from "./temp-dirs.js";

/**
 * Small tmpfs mounts for disk faults (full, read-only): real ENOSPC and EROFS from the kernel
 * instead of mocked fs calls. Mounting needs root (CI runs as root); `tmpfsSkipReason` says why
 * tests that need one are skipped elsewhere. Every mount is undone at the end of the test file.
 */
const mounts: string[] = [];
afterAll(() => {
  for (const dir of mounts.splice(0).reverse()) execFileSync("umount", ["-l", dir], { stdio: "ignore" });
});

function probe(): string | undefined {
  if (process.getuid?.() !== 0) return "mounting a tmpfs needs root";
  try {
    const dir = join(tempDirSync("cohort-tmpfs-probe-"), "m");
    mkdirSync(dir);
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=16k", "tmpfs", dir], { stdio: "pipe" });
    execFileSync("umount", [dir], { stdio: "pipe" });
    return undefined;
  } catch (error) {
    return `mount -t tmpfs failed here (${String((error as Error).message).split("\n")[0]})`;
  }
}

/** Why tmpfs tests cannot run here, or undefined when they can. */
export const tmpfsSkipReason = probe();

/** A fresh tmpfs of `sizeKiB` (options such as `ro` added), mounted on a new folder that is returned. */
export function mountTmpfs(sizeKiB: number, options: string[] = []): string {
  const dir = join(tempDirSync("cohort-tmpfs-"), "disk");
  mkdirSync(dir);
  execFileSync("mount", ["-t", "tmpfs", "-o", [`size=${sizeKiB}k`, ...options].join(","), "tmpfs", dir], { stdio: "pipe" });
  mounts.push(dir);
  return dir;
}

/** Changes a mounted tmpfs's size (a disk freed) or options, in place. */
export function remountTmpfs(dir: string, sizeKiB: number, options: string[] = []): void {
  execFileSync("mount", ["-o", ["remount", `size=${sizeKiB}k`, ...options].join(","), dir], { stdio: "pipe" });
}
