import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { isIP } from "node:net";
import { join, resolve } from "node:path";
import { load as loadYaml } from "js-yaml";

/**
 * `cohort certs`: a development CA, the aggregator's server certificate and one client
 * certificate per party, for mutual TLS. It runs the system's `openssl` (Debian's `openssl`
 * package) rather than a JavaScript X.509 library: openssl is the well-kept, audited tool
 * operators already trust and can inspect the output with, and it adds no npm dependency.
 * Keys are EC P-256, written with mode 0600. Each party certificate's subject CN is the party's
 * name: under mutual TLS the aggregator lets a certificate act only as the party it names.
 */
export interface CertsOptions {
  out: string;
  /** SANs of the aggregator's certificate (default localhost and 127.0.0.1). */
  host?: string[];
  party?: string[];
  /** An aggregator config whose `parties[].name` are used when no --party is given. */
  config?: string;
  days?: number;
  force?: boolean;
  print?: (line: string) => void;
}

/** A problem the user fixes (no openssl, bad name): printed without a stack, exit code 2. */
export class CertsError extends Error {
  readonly code = "ECERTS";
  constructor(message: string) {
    super(message);
    this.name = "CertsError";
  }
}

/** Names become a certificate subject and a file name: no slashes, no subject syntax. */
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export function opensslVersion(): string {
  try {
    return execFileSync("openssl", ["version"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
  } catch {
    throw new CertsError("openssl was not found on the PATH: cohort certs uses the system's openssl (Debian/Ubuntu: apt-get install openssl)");
  }
}

export function partiesFromConfig(file: string): string[] {
  const raw = loadYaml(readFileSync(file, "utf8")) as { parties?: { name?: unknown }[] } | undefined;
  const names = (raw?.parties ?? []).map((p) => p?.name).filter((n): n is string => typeof n === "string");
  if (names.length === 0) throw new CertsError(`${file}: no parties[].name to make certificates for`);
  return names;
}

export async function runCertsCommand(options: CertsOptions): Promise<number> {
  const print = options.print ?? ((line: string) => process.stdout.write(`${line}\n`));
  const version = opensslVersion();
  const parties = options.party?.length ? options.party : options.config ? partiesFromConfig(options.config) : [];
  if (parties.length === 0) throw new CertsError("name the parties with --party NAME (repeatable) or --config aggregator.yml");
  for (const name of parties) if (!NAME.test(name)) throw new CertsError(`party name ${JSON.stringify(name)} cannot be a certificate subject: use letters, digits, '.', '_' and '-'`);
  if (new Set(parties).size !== parties.length) throw new CertsError("a party is named twice");
  const hosts = options.host?.length ? options.host : ["localhost", "127.0.0.1"];
  for (const host of hosts) if (!isIP(host) && !/^[A-Za-z0-9*]([A-Za-z0-9.-]{0,252})$/.test(host)) throw new CertsError(`--host ${JSON.stringify(host)} is neither an IP address nor a DNS name`);
  const days = String(options.days ?? 365);
  const out = resolve(options.out);
  if (existsSync(join(out, "ca.key")) && !options.force) throw new CertsError(`${out} already holds a CA (ca.key): choose another --out, or --force to replace it`);
  mkdirSync(join(out, "parties"), { recursive: true });

  const ssl = (...args: string[]) => {
    // openssl 1.1 creates -keyout files under the umask (0644 with the usual 022): with 077 no
    // key is ever readable by others, not even between its creation and the chmod below.
    const umask = process.umask(0o077);
    try {
      execFileSync("openssl", args, { cwd: out, stdio: ["ignore", "pipe", "pipe"] });
    } catch (error) {
      throw new CertsError(`openssl ${args[0]} failed: ${String((error as { stderr?: Buffer }).stderr ?? error).trim()}`);
    } finally {
      process.umask(umask);
    }
  };
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  ssl("req", "-x509", ...ec, "-days", days, "-subj", "/CN=cohort development CA", "-keyout", "ca.key", "-out", "ca.pem",
    "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign");
  const issue = (base: string, cn: string, extensions: string) => {
    const ext = `${base}.ext`;
    writeFileSync(join(out, ext), extensions);
    try {
      ssl("req", ...ec, "-subj", `/CN=${cn}`, "-keyout", `${base}.key`, "-out", `${base}.csr`);
      ssl("x509", "-req", "-in", `${base}.csr`, "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", days, "-extfile", ext, "-out", `${base}.pem`);
    } finally {
      rmSync(join(out, ext), { force: true });
      rmSync(join(out, `${base}.csr`), { force: true });
    }
    chmodSync(join(out, `${base}.key`), 0o600);
    return { cert: join(out, `${base}.pem`), key: join(out, `${base}.key`) };
  };
  chmodSync(join(out, "ca.key"), 0o600);
  const san = hosts.map((h) => (isIP(h) ? `IP:${h}` : `DNS:${h}`)).join(",");
  issue("aggregator", hosts[0], `subjectAltName=${san}\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature\n`);
  for (const party of parties) issue(join("parties", party), party, "extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature\n");
  rmSync(join(out, "ca.srl"), { force: true });

  print(`${version}: wrote a development CA, the aggregator's certificate (${san}) and ${parties.length} party certificate(s) to ${out}`);
  print(`  aggregator: tls_config: {enable: true, cert: ${join(out, "aggregator.pem")}, key: ${join(out, "aggregator.key")}, ca: ${join(out, "ca.pem")}}`);
  for (const party of parties) print(`  ${party}: tls_config: {enable: true, ca: ${join(out, "ca.pem")}, cert: ${join(out, "parties", `${party}.pem`)}, key: ${join(out, "parties", `${party}.key`)}}`);
  print("  keep ca.key offline or delete it; it signs any certificate this federation would trust");
  return 0;
}
