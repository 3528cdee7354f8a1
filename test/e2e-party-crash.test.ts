import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, describe, expect, it } from "vitest";
import { type CohortProcess, ProcessGroup, writeTwoPartyFederation } from "./helpers/processes.js";
import { readRoundLines } from "./helpers/federation.js";

const processes = new ProcessGroup();
afterAll(() => processes.killAll());

describe("a party is killed (SIGKILL) during a round and restarted", () => {
  it("the round closes on quorum without it, and the restarted party rejoins under its identity for a later round", async () => {
    const { dir, aggregatorArgs, partyArgs } = await writeTwoPartyFederation({ rounds: 6, percQuorum: 0.5, epochs: 2, batchSize: 16, maxExamples: 2000 });
    const aggregator = processes.start(aggregatorArgs);
    const p0 = processes.start(partyArgs(0));
    let p1 = processes.start(partyArgs(1));

    // Killed while training round 2.
    await p1.waitFor((e) => e.phase === "train" && e.round === 2 && e.msg === "local training started");
    await p1.kill("SIGKILL");
    p1 = processes.start(partyArgs(1));

    expect(await aggregator.exited).toBe(0);
    expect(await p0.exited).toBe(0);
    expect(await p1.exited).toBe(0);
    const lines = await readRoundLines(join(dir, "run"));
    expect(lines.map((l) => l.round)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(lines[1].parties).toEqual(["p0"]);
    expect(lines[1].missing).toEqual(["p1"]);
    // Back within a round or two (it restarts in about a second while rounds take a few).
    expect(lines[5].parties.sort()).toEqual(["p0", "p1"]);
    const joins = aggregator.events.filter((e) => e.phase === "join" && e.party === "p1").map((e) => e.joins);
    expect(joins).toEqual([1, 2]);
  }, 240_000);

  it("SIGTERM while training: the party leaves at once and exits 0; the aggregator closes the round on the others without waiting for max_timeout", async () => {
    const { dir, aggregatorArgs, partyArgs } = await writeTwoPartyFederation({ rounds: 3, percQuorum: 0.5, epochs: 2, batchSize: 16, maxExamples: 2000 });
    const aggregator = processes.start(aggregatorArgs);
    const p0 = processes.start(partyArgs(0));
    const p1 = processes.start(partyArgs(1));

    await p1.waitFor((e) => e.phase === "train" && e.round === 2 && e.msg === "local training started");
    const signalled = Date.now();
    p1.child.kill("SIGTERM");
    expect(await p1.exited).toBe(0);
    const leftMs = Date.now() - signalled;
    expect(p1.events.some((e) => e.phase === "signal" && e.signal === "SIGTERM")).toBe(true);
    expect(p1.events.some((e) => e.phase === "upload" && e.round === 2)).toBe(false);
    // Training stopped at once: the second epoch of round 2 never finished.
    expect(p1.events.some((e) => e.round === 2 && e.msg === "epoch done" && e.epoch === 2)).toBe(false);

    expect(await aggregator.exited).toBe(0);
    expect(await p0.exited).toBe(0);
    const lines = await readRoundLines(join(dir, "run"));
    expect(lines.map((l) => l.round)).toEqual([1, 2, 3]);
    expect(lines[0].parties.sort()).toEqual(["p0", "p1"]);
    expect(lines[1].parties).toEqual(["p0"]);
    expect(lines[1].missing).toEqual(["p1"]);
    expect(aggregator.events.some((e) => e.phase === "disconnect" && e.party === "p1")).toBe(true);
    // max_timeout is 60 s: the round ended because p1 left, not because time ran out.
    expect(lines[1].ms.round).toBeLessThan(30_000);
    expect(leftMs).toBeLessThan(15_000);
  }, 120_000);

  // A 26 MB model (test/fixtures/big-dense-model.mjs) in 4 KiB chunks: a download or an upload
  // takes one to three seconds on loopback, long enough to kill a party in the middle of one.
  // evaluate_every > rounds: each round's download happens when its training starts.
  const bigFederation = () => writeTwoPartyFederation({
    rounds: 4, percQuorum: 0.5, maxExamples: 64, model: join(process.cwd(), "test/fixtures/big-dense-model.mjs"), chunkSize: 4096, evaluateEvery: 100,
  });

  /** All three processes finish; round 1 went on without p1, which is back (second join) by the last of 4 rounds. */
  async function expectRoundOneWithoutP1(dir: string, aggregator: CohortProcess, p0: CohortProcess, p1: CohortProcess) {
    expect(await aggregator.exited).toBe(0);
    expect(await p0.exited).toBe(0);
    expect(await p1.exited).toBe(0);
    const lines = await readRoundLines(join(dir, "run"));
    expect(lines.map((l) => l.round)).toEqual([1, 2, 3, 4]);
    expect(lines[0].parties).toEqual(["p0"]);
    expect(lines[0].missing).toEqual(["p1"]);
    expect(lines[3].parties.sort()).toEqual(["p0", "p1"]);
    expect(aggregator.events.filter((e) => e.phase === "join" && e.party === "p1").map((e) => e.joins)).toEqual([1, 2]);
    return lines;
  }

  it("killed while downloading the global model: round 1 closes without it; restarted, it takes part in a later round", async () => {
    const { dir, aggregatorArgs, partyArgs } = await bigFederation();
    const aggregator = processes.start(aggregatorArgs);
    const p0 = processes.start(partyArgs(0));
    let p1 = processes.start(partyArgs(1), { LOG_LEVEL: "debug" });

    await p1.waitFor((e) => e.phase === "download" && e.round === 0 && e.msg === "downloading the global model");
    await sleep(200);
    const downloaded = p1.events.some((e) => e.phase === "download" && e.round === 0 && e.bytes !== undefined);
    await p1.kill("SIGKILL");
    expect(downloaded).toBe(false);
    p1 = processes.start(partyArgs(1));

    const lines = await expectRoundOneWithoutP1(dir, aggregator, p0, p1);
    for (const l of lines) expect(l.examples).toBe(l.parties.reduce((n: number, p: string) => n + l.by_party[p].examples, 0));
  }, 60_000);

  it("killed mid-upload: the partial update leaves no trace, round 1 closes without it; restarted, it takes part in a later round", async () => {
    const { dir, aggregatorArgs, partyArgs } = await bigFederation();
    const aggregator = processes.start(aggregatorArgs);
    const p0 = processes.start(partyArgs(0));
    let p1 = processes.start(partyArgs(1));

    await p1.waitFor((e) => e.phase === "upload" && e.round === 1 && e.msg === "upload started");
    await sleep(300);
    const uploaded = p1.events.some((e) => e.phase === "upload" && e.round === 1 && e.bytes !== undefined);
    await p1.kill("SIGKILL");
    expect(uploaded).toBe(false);
    p1 = processes.start(partyArgs(1));

    const lines = await expectRoundOneWithoutP1(dir, aggregator, p0, p1);
    const accepted = aggregator.events.filter((e) => e.phase === "upload" && e.msg === "update accepted");
    expect(accepted.some((e) => e.party === "p1" && e.round === 1)).toBe(false);
    expect(Object.keys(lines[0].by_party)).toEqual(["p0"]);
    expect(lines[0].examples).toBe(lines[0].by_party.p0.examples);
  }, 60_000);
});
