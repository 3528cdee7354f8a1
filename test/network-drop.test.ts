import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Party } from "@cohort/party";
import type { Manifest } from "@cohort/tensors";
import { ArithmeticLearner } from "./helpers/arithmetic-learner.js";
import { startAggregator, testLogger } from "./helpers/federation.js";
import { TcpProxy } from "./helpers/tcp-proxy.js";

// 4 MB of weights in 16 KiB chunks: an upload is a few hundred messages, so a cut lands in it.
const manifest: Manifest = { tensors: [{ name: "w", dtype: "float32", shape: [1000, 1000] }, { name: "b", dtype: "float32", shape: [1000] }] };
const cleanup: (() => unknown)[] = [];
afterEach(async () => { for (const f of cleanup.splice(0)) await f(); });

async function federationWithProxy(halfOpen: boolean) {
  const rounds = 8;
  const { aggregator, port, outputDir } = await startAggregator({ rounds, numParties: 3, percQuorum: 0.5, maxTimeoutMs: 15_000, chunkSize: 16 * 1024 });
  cleanup.push(() => aggregator.forceClose());
  const proxy = new TcpProxy({ host: "127.0.0.1", port });
  const proxyPort = await proxy.start();
  cleanup.push(() => proxy.close());
  const examples = [100, 300, 600];
  const offsets = [1, 2, 4];
  const learners = examples.map((n, i) => new ArithmeticLearner(manifest, n, offsets[i]));
  // Local training takes 1 s, so that rounds last long enough for party1 to come back.
  for (const l of learners) {
    const train = l.train.bind(l);
    l.train = async (settings) => { await new Promise((r) => setTimeout(r, 1000)); return train(settings); };
  }
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
  const parties = learners.map((learner, i) => {
    const p = new Party({ name: `party${i}`, token: `token-of-party-${i}`, host: "127.0.0.1", port: i === 1 ? proxyPort : port, reconnect: { initialDelayMs: 100, maxDelayMs: 400, maxAttempts: 0 } }, learner, testLogger(`party${i}`));
    cleanup.push(() => p.close());
    return p.run();
  });
  const summary = await run;
  expect(await Promise.all(parties)).toEqual(Array(3).fill("all rounds completed"));
  const lines = (await readFile(join(outputDir, "metrics.jsonl"), "utf8")).trim().split("\n").map((l) => JSON.parse(l));

  expect(cutAt).toBe(2);
  expect(proxy.connections).toBeGreaterThan(1); // party1 reconnected by itself
  expect(summary.rounds_completed).toBe(rounds);
  expect(lines.map((l) => l.round)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  // Nothing double counted: each round's parties unique, its examples theirs, and the global
  // model (every party reports it as its accuracy) moved by exactly the contributors' mean offset.
  let global = 0;
  for (const l of lines) {
    expect(new Set(l.parties).size).toBe(l.parties.length);
    const ids = l.parties.map((p: string) => Number(p.slice("party".length)));
    expect(l.examples).toBe(ids.reduce((n: number, i: number) => n + examples[i], 0));
    expect(l.examples).toBe(l.parties.reduce((n: number, p: string) => n + l.by_party[p].examples, 0));
    global += ids.reduce((n: number, i: number) => n + examples[i] * offsets[i], 0) / l.examples;
    expect(l.eval.accuracy).toBeCloseTo(global, 4);
  }
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
