import { execFileSync } from "node:child_process";
import { readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CertsError, opensslVersion, runCertsCommand } from "./certs.js";
import { tempDirSync } from "../../../../test/helpers/temp-dirs.js";

const available = (() => { try { opensslVersion(); return true; } catch { return false; } })();
const x509 = (file: string, ...args: string[]) => execFileSync("openssl", ["x509", "-in", file, "-noout", ...args], { encoding: "utf8" });

describe.skipIf(!available)(`cohort certs${available ? "" : " (skipped: openssl is not installed)"}`, () => {
  it("writes a CA, the aggregator's certificate with the given SANs and one client certificate per party, keys 0600", async () => {
    const out = join(tempDirSync("cohort-certs-"), "pki");
    const lines: string[] = [];
    expect(await runCertsCommand({ out, host: ["agg.example.org", "10.0.0.5"], party: ["p0", "p1"], print: (l) => lines.push(l) })).toBe(0);
    expect(readdirSync(out).sort()).toEqual(["aggregator.key", "aggregator.pem", "ca.key", "ca.pem", "parties"]);
    expect(readdirSync(join(out, "parties")).sort()).toEqual(["p0.key", "p0.pem", "p1.key", "p1.pem"]);
    for (const key of ["ca.key", "aggregator.key", "parties/p0.key", "parties/p1.key"]) expect(statSync(join(out, key)).mode & 0o777).toBe(0o600);
    expect(x509(join(out, "aggregator.pem"), "-ext", "subjectAltName")).toMatch(/DNS:agg\.example\.org, IP Address:10\.0\.0\.5/);
    expect(x509(join(out, "parties/p1.pem"), "-subject")).toMatch(/CN\s*=\s*p1/);
    const verified = execFileSync("openssl", ["verify", "-CAfile", join(out, "ca.pem"), join(out, "aggregator.pem"), join(out, "parties/p0.pem")], { encoding: "utf8" });
    expect(verified).toMatch(/aggregator\.pem: OK[\s\S]*p0\.pem: OK/);
    expect(lines[0]).toMatch(/OpenSSL/);
    await expect(runCertsCommand({ out, party: ["p0"], print: () => undefined })).rejects.toThrow(/already holds a CA/);
  });

  it("takes party names from an aggregator config and refuses names that cannot be a subject", async () => {
    const dir = tempDirSync("cohort-certs-");
    writeFileSync(join(dir, "aggregator.yml"), "parties: [{name: alpha, token_env: A}, {name: beta, token_env: B}]\n");
    await runCertsCommand({ out: join(dir, "pki"), config: join(dir, "aggregator.yml"), print: () => undefined });
    expect(readdirSync(join(dir, "pki", "parties")).sort()).toEqual(["alpha.key", "alpha.pem", "beta.key", "beta.pem"]);
    await expect(runCertsCommand({ out: join(dir, "x"), party: ["p0/CN=evil"] })).rejects.toBeInstanceOf(CertsError);
  });
});

describe("cohort certs without openssl", () => {
  it("says openssl is missing and how to install it", () => {
    const path = process.env.PATH;
    process.env.PATH = "/nonexistent";
    try {
      expect(() => opensslVersion()).toThrow(/openssl was not found.*apt-get install openssl/);
    } finally {
      process.env.PATH = path;
    }
  });
});
