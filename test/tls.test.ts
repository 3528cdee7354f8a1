import * as grpc from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import { Party } from "@cohort/party";
import type { Manifest } from "@cohort/tensors";
import { ArithmeticLearner } from "./helpers/arithmetic-learner.js";
import { hasOpenssl, makeDevCerts } from "./helpers/dev-certs.js";
import { partyList, startAggregator, testLogger } from "./helpers/federation.js";
import { tempDir } from "./helpers/temp-dirs.js";

const manifest: Manifest = { tensors: [{ name: "w", dtype: "float32", shape: [10] }] };
const cleanup: (() => void)[] = [];
afterEach(() => { cleanup.splice(0).forEach((f) => f()); });

const available = hasOpenssl();
describe.skipIf(!available)(`mutual TLS${available ? "" : " (skipped: openssl is not installed)"}`, () => {
  it("runs a round over mutual TLS and refuses a party without a client certificate", async () => {
    const certs = makeDevCerts(["party0"]);
    const { aggregator, port } = await startAggregator(
      { rounds: 1, numParties: 1, parties: partyList(1), tls: { certFile: certs.server.cert, keyFile: certs.server.key, caFile: certs.ca } },
    );
    cleanup.push(() => aggregator.forceClose());
    const run = aggregator.run();

    const anonymous = new Party({ name: "party0", token: "token-of-party-0", host: "127.0.0.1", port, tls: { caFile: certs.ca }, reconnect: { initialDelayMs: 20, maxDelayMs: 50, maxAttempts: 2 } },
      new ArithmeticLearner(manifest, 5, 1), testLogger("anonymous"));
    cleanup.push(() => anonymous.close());
    await expect(anonymous.run()).rejects.toThrow();

    const party = new Party({ name: "party0", token: "token-of-party-0", host: "127.0.0.1", port, tls: { caFile: certs.ca, certFile: certs.client.party0.cert, keyFile: certs.client.party0.key } },
      new ArithmeticLearner(manifest, 5, 2), testLogger("party0"));
    cleanup.push(() => party.close());
    await expect(party.run()).resolves.toBe("all rounds completed");
    expect((await run).rounds_completed).toBe(1);
  });
});

describe.skipIf(!available)("mutual TLS with `cohort certs` output; party identity from the client certificate", () => {
  async function pki() {
    const { join } = await import("node:path");
    const { runCertsCommand } = await import("../packages/cli/src/commands/certs.js");
    const out = join(await tempDir("cohort-pki-"), "pki");
    await runCertsCommand({ out, party: ["party0", "party1"], print: () => undefined });
    const party = (name: string) => ({ caFile: join(out, "ca.pem"), certFile: join(out, "parties", `${name}.pem`), keyFile: join(out, "parties", `${name}.key`) });
    return { server: { certFile: join(out, "aggregator.pem"), keyFile: join(out, "aggregator.key"), caFile: join(out, "ca.pem") }, party };
  }

  const makeParty = (port: number, name: string, token: string, tls: { caFile: string; certFile: string; keyFile: string }, offset: number) => {
    const p = new Party({ name, token, host: "127.0.0.1", port, tls, reconnect: { initialDelayMs: 20, maxDelayMs: 50, maxAttempts: 2 } },
      new ArithmeticLearner(manifest, 5, offset), testLogger(name));
    cleanup.push(() => p.close());
    return p;
  };

  it("a federation runs over mTLS with the generated files; a certificate lets a party act only as the party it names", async () => {
    const certs = await pki();
    const { aggregator, port } = await startAggregator({ rounds: 1, numParties: 2, parties: partyList(2), tls: certs.server });
    cleanup.push(() => aggregator.forceClose());
    const run = aggregator.run();
    // party0's token with party1's certificate: refused, whatever the token says.
    const impostor = await makeParty(port, "party0", "token-of-party-0", certs.party("party1"), 9).run().catch((e) => e);
    expect(impostor.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(impostor.message).toMatch(/certificate is for party party1, not party0/);
    const runs = [0, 1].map((i) => makeParty(port, `party${i}`, `token-of-party-${i}`, certs.party(`party${i}`), i + 1).run());
    expect(await Promise.all(runs)).toEqual(["all rounds completed", "all rounds completed"]);
    expect((await run).rounds_completed).toBe(1);
  });

  it("with identity: certificate, the certificate alone names the party (the token is not checked)", async () => {
    const certs = await pki();
    const { aggregator, port } = await startAggregator({ rounds: 1, numParties: 1, parties: partyList(2), tls: { ...certs.server, identity: "certificate" } });
    cleanup.push(() => aggregator.forceClose());
    const run = aggregator.run();
    const claimsOther = await makeParty(port, "party1", "whatever-token", certs.party("party0"), 1).run().catch((e) => e);
    expect(claimsOther.code).toBe(grpc.status.PERMISSION_DENIED);
    await expect(makeParty(port, "party0", "not-the-token", certs.party("party0"), 1).run()).resolves.toBe("all rounds completed");
    expect((await run).rounds_completed).toBe(1);
  });
});
