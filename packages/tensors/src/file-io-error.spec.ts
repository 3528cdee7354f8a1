import { mkdtemp, open, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { FileIOError, isSystemError, withPath } from "./file-io-error.js";

describe("withPath", () => {
  it("turns an operating-system error on a file handle (no path in Node's message) into one naming the file", async () => {
    const dir = await mkdtemp(join(tmpdir(), "cohort-io-"));
    const path = join(dir, "a.bin");
    const file = await open(path, "r").catch(async () => { await (await open(path, "w")).close(); return open(path, "r"); });
    try {
      // Writing to a read-only handle fails with EBADF, and Node's message says only "write".
      const error = await withPath(path, "write", () => file.write(new Uint8Array(4))).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(FileIOError);
      expect((error as FileIOError).code).toBe("EBADF");
      expect((error as FileIOError).exitCode).toBe(1);
      expect((error as Error).message).toBe(`cannot write ${path}: EBADF: bad file descriptor, write`);
    } finally {
      await file.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("lets the program's own errors through unchanged", async () => {
    const own = new RangeError("wrote 3 bytes, expected 4");
    await expect(withPath("/x", "write", async () => { throw own; })).rejects.toBe(own);
    expect(isSystemError(own)).toBe(false);
  });
});
