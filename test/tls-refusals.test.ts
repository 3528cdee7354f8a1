import { afterEach, describe, expect, it } from "vitest";
import { Aggregator } from "@cohort/aggregator";
import { Party, PartyTlsError } from "@cohort/party";
import type { Manifest } from "@cohort/tensors";
import { ArithmeticLearner } from "./helpers/arithmetic-learner.js";
import { hasOpenssl, makeDevCerts } from "./helpers/dev-certs.js";
import { capturingLogger, partyList } from "./helpers/federation.js";
import { tempDir } from "./helpers/temp-dirs.js";

const manifest: Manifest = { tensors: [{ name: "w", dtype: "float32", shape: [4] }] };
const cleanup: (() => void)[] = [];
afterEach(() => { cleanup.splice(0).forEach((f) => f()); });

const available = hasOpenssl();
describe.skipIf(!available)(`certificates refused at the TLS handshake${available ? "" : " (skipped: openssl is not installed)"}`, () => {
  const ours = available ? makeDevCerts(["party0"]) : undefined;
  const foreign = available ? makeDevCerts(["party0"]) : undefined;

  /** An aggregator under mutual TLS with `ours`, logging into `lines`; a party dialling it with `tls` and retrying (it must not need to). */
  async function attempt(tls: { caFile: string; certFile?: string; keyFile?: string }) {
    const { log, lines } = capturingLogger("aggregator");
    const aggregator = new Aggregator({
      host: "127.0.0.1", port: 0, chunkSize: 65536, algorithm: "fedavg", rounds: 1, numParties: 1, percQuorum: 1, maxTimeoutMs: 20_000,
      local: { epochs: 1, batchSize: 32, validationSplit: 0 }, outputDir: await tempDir("cohort-run-"), parties: partyList(1),
      tls: { certFile: ours!.server.cert, keyFile: ours!.server.key, caFile: ours!.ca },
    }, log);
    const port = await aggregator.start();
    cleanup.push(() => aggregator.forceClose());
    const party = capturingLogger("party0");
    const p = new Party({ name: "party0", token: "token-of-party-0", host: "127.0.0.1", port, tls, reconnect: { initialDelayMs: 20, maxDelayMs: 50, maxAttempts: 50 } }, new ArithmeticLearner(manifest, 5, 1), party.log);
    cleanup.push(() => p.close());
    const started = Date.now();
    const error = await p.run().catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 100)); // the aggregator's side of the same handshake
    return { error: error as PartyTlsError, ms: Date.now() - started, partyLines: party.lines, aggregatorLines: lines };
  }

  it("no client certificate: the party stops at once (exit code 2) saying to set cert and key; the aggregator logs the handshake failure", async () => {
    const { error, ms, partyLines, aggregatorLines } = await attempt({ caFile: ours!.ca });
    expect(error).toBeInstanceOf(PartyTlsError);
    expect(error.exitCode).toBe(2);
    expect(error.message).toMatch(/certificate required.*set aggregator\.tls_config\.cert and key/);
    expect(ms).toBeLessThan(5000); // no retrying until max_attempts
    expect(partyLines.some((l) => l.phase === "tls" && l.level === 50)).toBe(true);
    expect(partyLines.filter((l) => l.phase === "reconnect")).toHaveLength(0);
    const logged = aggregatorLines.find((l) => l.phase === "connection" && l.reason === "tls_handshake");
    expect(logged?.peer).toBe("127.0.0.1");
    expect(String(logged?.code)).toMatch(/CERTIFICATE|PEER_DID_NOT_RETURN/);
  });

  it("a client certificate from another CA: refused by the aggregator, the party says its certificate must be signed by the aggregator's CA", async () => {
    const { error, aggregatorLines } = await attempt({ caFile: ours!.ca, certFile: foreign!.client.party0!.cert, keyFile: foreign!.client.party0!.key });
    expect(error).toBeInstanceOf(PartyTlsError);
    expect(error.message).toMatch(/refused this party's certificate: aggregator\.tls_config\.cert must be signed by the CA in the aggregator's tls_config\.ca/);
    expect(aggregatorLines.find((l) => l.phase === "connection" && l.reason === "tls_handshake")?.reason).toBe("tls_handshake");
  });

  it("the party does not trust the aggregator's certificate: it says which ca and SAN to fix", async () => {
    const { error, aggregatorLines } = await attempt({ caFile: foreign!.ca, certFile: ours!.client.party0!.cert, keyFile: ours!.client.party0!.key });
    expect(error).toBeInstanceOf(PartyTlsError);
    expect(error.message).toMatch(/self-signed certificate in certificate chain.*aggregator\.tls_config\.ca must be the CA that signed it, and its subject alternative names must include 127\.0\.0\.1/);
    // The aggregator sees the party abort the handshake (an alert from the party).
    expect(aggregatorLines.some((l) => l.phase === "connection" && l.reason === "tls_handshake")).toBe(true);
  });
});
