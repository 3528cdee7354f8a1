import { execFileSync } from "node:child_process";
import { chmodSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Party } from "@cohort/party";
import { KeyPermissionsError } from "@cohort/wire";
import { ArithmeticLearner } from "./helpers/arithmetic-learner.js";
import { hasOpenssl, makeDevCerts } from "./helpers/dev-certs.js";
import { testLogger } from "./helpers/federation.js";
import { tempDir } from "./helpers/temp-dirs.js";

const mode = (file: string) => statSync(file).mode & 0o777;

describe.skipIf(!hasOpenssl())(`private key files${hasOpenssl() ? "" : " (skipped: openssl is not installed)"}`, () => {
  it("deploy/make-dev-certs.sh writes every key (the CA's included) and the tokens 0600, certificates 0644", async () => {
    const out = join(await tempDir("cohort-secrets-"), "secrets");
    execFileSync("bash", [join(process.cwd(), "deploy/make-dev-certs.sh"), out], { stdio: "pipe" });
    const files = readdirSync(out);
    const keys = files.filter((f) => f.endsWith(".key"));
    expect(keys.sort()).toEqual(["aggregator.key", "ca.key", "party0.key", "party1.key", "party2.key"]);
    for (const key of [...keys, "tokens.env"]) expect(mode(join(out, key)).toString(8), key).toBe("600");
    for (const cert of files.filter((f) => f.endsWith(".pem"))) expect(mode(join(out, cert)).toString(8), cert).toBe("644");
  });

  it("a party refuses a client key other users may read, unless told to accept it", () => {
    const certs = makeDevCerts(["party0"]);
    const { cert, key } = certs.client.party0;
    chmodSync(key, 0o644);
    const settings = { name: "party0", token: "token-of-party-0", host: "127.0.0.1", port: 1, tls: { caFile: certs.ca, certFile: cert, keyFile: key } };
    const learner = new ArithmeticLearner({ tensors: [{ name: "w", dtype: "float32", shape: [1] }] }, 1, 1);
    expect(() => new Party(settings, learner, testLogger("party0"))).toThrow(KeyPermissionsError);
    expect(() => new Party(settings, learner, testLogger("party0"))).toThrow(`${key}: private key is readable by other users (mode 0644)`);
    new Party({ ...settings, allowInsecureKeyPermissions: true }, learner, testLogger("party0")).close();
  });
});
