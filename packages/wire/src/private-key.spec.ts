import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { KeyPermissionsError, readPrivateKey } from "./private-key.js";

const dir = mkdtempSync(join(tmpdir(), "cohort-key-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const key = (mode: number) => {
  const file = join(dir, `k-${mode.toString(8)}.key`);
  writeFileSync(file, "-----BEGIN PRIVATE KEY-----\n");
  chmodSync(file, mode);
  return file;
};

describe.skipIf(process.platform === "win32")("readPrivateKey", () => {
  it("reads a key only its owner (0600) or its group (0640, 0440: Kubernetes secrets) may read", () => {
    for (const mode of [0o600, 0o640, 0o440]) expect(readPrivateKey(key(mode)).toString()).toContain("PRIVATE KEY");
  });

  it("refuses a key others may read, saying how to fix it; the override accepts it", () => {
    const file = key(0o644);
    expect(() => readPrivateKey(file)).toThrow(KeyPermissionsError);
    expect(() => readPrivateKey(file)).toThrow(`${file}: private key is readable by other users (mode 0644); run chmod 600 ${file}`);
    expect(() => readPrivateKey(file)).toThrow("--allow-insecure-key-permissions");
    expect(readPrivateKey(file, true).toString()).toContain("PRIVATE KEY");
  });
});
