import { afterEach, describe, expect, it } from "vitest";
import { Party } from "@cohort/party";
import type { Manifest } from "@cohort/tensors";
import { ArithmeticLearner } from "./helpers/arithmetic-learner.js";
import { hasOpenssl, makeDevCerts } from "./helpers/dev-certs.js";
import { partyList, startAggregator, testLogger } from "./helpers/federation.js";

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
