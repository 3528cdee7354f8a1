import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDirSync } from "./temp-dirs.js";

export function hasOpenssl(): boolean {
  try {
    execFileSync("openssl", ["version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** A throwaway CA, a server certificate for 127.0.0.1/localhost and client certificates, made with openssl (in a directory removed at the end of the test file). */
export function makeDevCerts(clients: string[]): { dir: string; ca: string; server: { cert: string; key: string }; client: Record<string, { cert: string; key: string }> } {
  const dir = tempDirSync("cohort-certs-");
  const ssl = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
  ssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj", "/CN=cohort-test-ca", "-keyout", "ca.key", "-out", "ca.pem");
  const issue = (name: string, ext: string) => {
    writeFileSync(join(dir, `${name}.ext`), ext);
    ssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-subj", `/CN=${name}`, "-keyout", `${name}.key`, "-out", `${name}.csr`);
    ssl("x509", "-req", "-in", `${name}.csr`, "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", "1", "-extfile", `${name}.ext`, "-out", `${name}.pem`);
    return { cert: join(dir, `${name}.pem`), key: join(dir, `${name}.key`) };
  };
  const server = issue("aggregator", "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n");
  const client = Object.fromEntries(clients.map((c) => [c, issue(c, "extendedKeyUsage=clientAuth\n")]));
  return { dir, ca: join(dir, "ca.pem"), server, client };
}
