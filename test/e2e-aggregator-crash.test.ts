import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ProcessGroup, writeTwoPartyFederation } from "./helpers/processes.js";
import { readRoundLines } from "./helpers/federation.js";

const processes = new ProcessGroup();
afterAll(() => processes.killAll());
const start = (args: string[]) => processes.start(args);

describe("the aggregator is killed (SIGKILL) and restarted with the same config", () => {
  it("resumes from its output directory: completed rounds are kept, none runs twice, parties reconnect by themselves", async () => {
    const { dir, aggregatorArgs, partyArgs } = await writeTwoPartyFederation({ rounds: 4, maxExamples: 300 });
    let aggregator = start(aggregatorArgs);
    const parties = [0, 1].map((i) => start(partyArgs(i)));

    // Crash 1: between rounds, right after round 1 is recorded.
    await aggregator.waitFor((e) => e.phase === "round-done" && e.round === 1);
    await aggregator.kill("SIGKILL");
    aggregator = start(aggregatorArgs);
    await aggregator.waitFor((e) => e.phase === "resume");

    // Crash 2: in the middle of round 3, while the parties train.
    await aggregator.waitFor((e) => e.phase === "train" && e.msg === "round started" && e.round === 3);
    await aggregator.kill("SIGKILL");
    aggregator = start(aggregatorArgs);

    expect(await aggregator.exited).toBe(0);
    for (const p of parties) expect(await p.exited).toBe(0);
    const lines = await readRoundLines(join(dir, "run"));
    expect(lines.map((l) => l.round)).toEqual([1, 2, 3, 4]);
    const summary = JSON.parse(await readFile(join(dir, "run", "summary.json"), "utf8"));
    expect(summary.rounds_completed).toBe(4);
    expect(summary.final.accuracy).toBe(lines[3].eval.accuracy);
    const resumed = aggregator.events.find((e) => e.phase === "resume");
    expect(resumed?.round).toBe(2);
    expect(summary.exported.length).toBe(3); // model.json, weights.bin, model.onnx
  }, 240_000);

  it("SIGTERM abandons the round in progress, stops the parties, writes no summary; the same config then resumes", async () => {
    const { dir, aggregatorArgs, partyArgs } = await writeTwoPartyFederation({ rounds: 3, maxExamples: 300 });
    let aggregator = start(aggregatorArgs);
    let parties = [0, 1].map((i) => start(partyArgs(i)));
    await aggregator.waitFor((e) => e.phase === "train" && e.msg === "round started" && e.round === 2);
    aggregator.child.kill("SIGTERM");
    expect(await aggregator.exited).toBe(0);
    for (const p of parties) expect(await p.exited).toBe(0);
    expect(aggregator.events.some((e) => e.phase === "stopped" && e.round === 1)).toBe(true);
    await expect(readFile(join(dir, "run", "summary.json"))).rejects.toThrow();

    aggregator = start(aggregatorArgs);
    parties = [0, 1].map((i) => start(partyArgs(i)));
    expect(await aggregator.exited).toBe(0);
    const lines = await readRoundLines(join(dir, "run"));
    expect(lines.map((l) => l.round)).toEqual([1, 2, 3]);
    expect(JSON.parse(await readFile(join(dir, "run", "summary.json"), "utf8")).rounds_completed).toBe(3);
  }, 240_000);
});
