import { afterEach, describe, expect, it } from "vitest";
import type { RoundMetrics } from "@cohort/aggregator";
import type { PartySettings } from "@cohort/party";
import type { Manifest } from "@cohort/tensors";
import type { Logger } from "@cohort/telemetry";
import { ArithmeticLearner } from "./helpers/arithmetic-learner.js";
import { type StartPartiesOptions, capturingLogger, readRoundLines, startAggregator, startParties, testLogger } from "./helpers/federation.js";
import { TcpProxy } from "./helpers/tcp-proxy.js";

// 4 MB of weights in 16 KiB chunks: an upload is a few hundred messages, so a cut lands in it.
const manifest: Manifest = { tensors: [{ name: "w", dtype: "float32", shape: [1000, 1000] }, { name: "b", dtype: "float32", shape: [1000] }] };
const cleanup: (() => unknown)[] = [];
afterEach(async () => { for (const f of cleanup.splice(0)) await f(); });

const EXAMPLES = [100, 300, 600];
const OFFSETS = [1, 2, 4];

/** party1 dials the aggregator through the proxy (with `settings`, and `log` when given); all retry fast and forever. */
function throughProxy(proxyPort: number, settings: Partial<PartySettings> = {}, log?: Logger): StartPartiesOptions {
  return {
    settings: (i) => ({ ...(i === 1 ? { port: proxyPort, ...settings } : {}), reconnect: { initialDelayMs: 100, maxDelayMs: 400, maxAttempts: 0 } }),
    ...(log ? { logger: (i: number) => (i === 1 ? log : testLogger(`party${i}`)) } : {}),
  };
}

/**
 * Nothing double counted: each round's parties are unique, its examples theirs, and the global
 * model (every party reports it as its probe metric) moved by exactly the contributors' mean offset.
 */
function expectEachRoundCountedOnce(lines: Required<RoundMetrics>[]): void {
  let global = 0;
  for (const l of lines) {
    expect(new Set(l.parties).size).toBe(l.parties.length);
    const ids = l.parties.map((p) => Number(p.slice("party".length)));
    expect(l.examples).toBe(ids.reduce((n, i) => n + EXAMPLES[i], 0));
    expect(l.examples).toBe(l.parties.reduce((n, p) => n + l.by_party[p].examples, 0));
    global += ids.reduce((n, i) => n + EXAMPLES[i] * OFFSETS[i], 0) / l.examples;
    expect(l.eval.probe).toBeCloseTo(global, 4);
  }
}

async function federationWithProxy(halfOpen: boolean) {
  const rounds = 8;
  const { aggregator, port, outputDir } = await startAggregator({ rounds, numParties: 3, percQuorum: 0.5, maxTimeoutMs: 15_000, chunkSize: 16 * 1024 });
  cleanup.push(() => aggregator.forceClose());
  const proxy = new TcpProxy({ host: "127.0.0.1", port });
  const proxyPort = await proxy.start();
  cleanup.push(() => proxy.close());
  const learners = EXAMPLES.map((n, i) => new ArithmeticLearner(manifest, n, OFFSETS[i]));
  // Local training takes 1 s, so that rounds last long enough for party1 to come back.
  for (const l of learners) l.trainDelayMs = () => 1000;
  // party1 goes through the proxy; the link is cut a few ms into its round-2 upload, for 2 s.
  let cutAt: number | undefined;
  learners[1].beforeUpload = () => {
    if (learners[1].trainedRounds !== 2) return;
    setTimeout(() => {
      cutAt = aggregator.currentRound();
      proxy.cut({ halfOpen });
      setTimeout(() => proxy.restore(), 2000);
    }, 5);
  };
  const run = aggregator.run();
  const parties = startParties(port, learners, cleanup, throughProxy(proxyPort));
  const summary = await run;
  expect(await Promise.all(parties)).toEqual(Array(3).fill("all rounds completed"));
  const lines = await readRoundLines(outputDir);

  expect(cutAt).toBe(2);
  expect(proxy.connections).toBeGreaterThan(1); // party1 reconnected by itself
  expect(summary.rounds_completed).toBe(rounds);
  expect(lines.map((l) => l.round)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  expectEachRoundCountedOnce(lines);
  // party1 is back for the last rounds.
  expect(lines[rounds - 1].parties.sort()).toEqual(["party0", "party1", "party2"]);
  return lines;
}

describe("the network drops between a party and the aggregator, then comes back", () => {
  it("connection reset (both ends see it): the party reconnects, nothing is double counted, the run finishes", async () => {
    await federationWithProxy(false);
  }, 60_000);

  it("link dies silently (the aggregator's end lingers): the party reconnects and its later uploads are accepted", async () => {
    await federationWithProxy(true);
  }, 60_000);
});

describe("the link black-holes traffic while the party waits for instructions", () => {
  it("keepalive pings notice it within time + timeout; the party reconnects; nothing is double counted; the aggregator's late teardown of the dead link drops no one", async () => {
    const rounds = 10;
    // The aggregator's own keepalive is slower than the outage: it tears the dead connection
    // down only after party1 is back, and that must not drop party1 from the round then running.
    const { aggregator, port, outputDir } = await startAggregator({
      rounds, numParties: 3, percQuorum: 0.5, maxTimeoutMs: 15_000, chunkSize: 16 * 1024,
      keepalive: { timeMs: 4_000, timeoutMs: 1_000, minPingIntervalMs: 100 },
    });
    cleanup.push(() => aggregator.forceClose());
    const proxy = new TcpProxy({ host: "127.0.0.1", port });
    const proxyPort = await proxy.start();
    cleanup.push(() => proxy.close());
    // A small model: what matters here is the idle link, not a transfer in flight.
    const small: Manifest = { tensors: [{ name: "w", dtype: "float32", shape: [10_000] }] };
    const learners = EXAMPLES.map((n, i) => new ArithmeticLearner(small, n, OFFSETS[i]));
    // party0 and party2 train for 1 s; party1 at once, then waits idle for its next instruction.
    for (const l of [learners[0], learners[2]]) l.trainDelayMs = () => 1000;
    const keepalive = { timeMs: 300, timeoutMs: 300 };
    let holeAt = 0;
    let connectionsBefore = 0;
    let restoredInRound = 0;
    // Once party1's round-2 update is accepted (it logs "update uploaded"), while it only waits
    // for its next instruction, its link black-holes every byte for 2.5 s.
    const party1 = capturingLogger("party1", (line) => {
      if (line.phase !== "upload" || line.round !== 2 || line.msg !== "update uploaded") return;
      setTimeout(() => {
        connectionsBefore = proxy.connections;
        holeAt = Date.now();
        proxy.cut({ blackhole: true });
        setTimeout(() => { restoredInRound = aggregator.currentRound(); proxy.restore(); }, 2_500);
      }, 100);
    });
    const run = aggregator.run();
    const parties = startParties(port, learners, cleanup, throughProxy(proxyPort, { keepalive }, party1.log));
    const summary = await run;
    expect(await Promise.all(parties)).toEqual(Array(3).fill("all rounds completed"));
    const lines = await readRoundLines(outputDir);

    // Pings every 300 ms over the idle link before the outage were answered, never refused
    // (no GOAWAY ENHANCE_YOUR_CALM, which would have made party1 reconnect).
    expect(holeAt).toBeGreaterThan(0);
    expect(connectionsBefore).toBe(1);
    // Only keepalive can notice: nothing was being sent. Noticed within time + timeout (+ slack).
    const noticed = party1.lines.find((l) => l.phase === "reconnect" && (l.at as number) >= holeAt);
    expect(noticed).toBeDefined();
    expect((noticed!.at as number) - holeAt).toBeLessThan(keepalive.timeMs + keepalive.timeoutMs + 900);
    expect(proxy.connections).toBeGreaterThan(1);
    expect(summary.rounds_completed).toBe(rounds);
    expect(lines.map((l) => l.round)).toEqual(Array.from({ length: rounds }, (_, i) => i + 1));
    expectEachRoundCountedOnce(lines);
    // Its round-2 update, sent before the outage, counts once.
    expect(lines[1].parties.sort()).toEqual(["party0", "party1", "party2"]);
    // From the round after the one it came back in, party1 is in every round, including the one
    // during which the aggregator's keepalive finally closed the dead connection (~5 s after the outage).
    expect(restoredInRound).toBeGreaterThan(0);
    expect(restoredInRound + 1).toBeLessThan(rounds - 3);
    for (const l of lines.slice(restoredInRound + 1)) expect(l.parties.sort()).toEqual(["party0", "party1", "party2"]);
  }, 90_000);
});
