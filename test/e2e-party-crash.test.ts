import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ProcessGroup, writeTwoPartyFederation } from "./helpers/processes.js";

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
    const lines = (await readFile(join(dir, "run", "metrics.jsonl"), "utf8")).trim().split("\n").map((l) => JSON.parse(l));
    expect(lines.map((l) => l.round)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(lines[1].parties).toEqual(["p0"]);
    expect(lines[1].missing).toEqual(["p1"]);
    // Back within a round or two (it restarts in about a second while rounds take a few).
    expect(lines[5].parties.sort()).toEqual(["p0", "p1"]);
    const joins = aggregator.events.filter((e) => e.phase === "join" && e.party === "p1").map((e) => e.joins);
    expect(joins).toEqual([1, 2]);
  }, 240_000);
});
