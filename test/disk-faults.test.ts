import { readFile, readdir } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Aggregator, OutputDirError, RECOVERED_EVALUATED, type RoundMetrics } from "@cohort/aggregator";
import { FileIOError, type Manifest } from "@cohort/tensors";
import { ArithmeticLearner } from "./helpers/arithmetic-learner.js";
import { partyList, readRoundLines, startAggregator, startParties, testLogger } from "./helpers/federation.js";
import { mountTmpfs, remountTmpfs, tmpfsSkipReason } from "./helpers/tmpfs.js";

const manifest: Manifest = { tensors: [{ name: "w", dtype: "float32", shape: [4] }] };
const cleanup: (() => void)[] = [];
afterEach(() => { cleanup.splice(0).forEach((f) => f()); });

/** A second aggregator on the same output_dir and settings (a restart), with the same parties joining it. */
async function restart(settings: ConstructorParameters<typeof Aggregator>[0], learners: ArithmeticLearner[]) {
  const aggregator = new Aggregator({ ...settings, port: 0 }, testLogger("aggregator"));
  const port = await aggregator.start();
  cleanup.push(() => aggregator.forceClose());
  const run = aggregator.run();
  const parties = startParties(port, learners, cleanup);
  const [summary] = await Promise.all([run, ...parties]);
  return summary;
}

describe("a round checkpointed but never given its metrics line", () => {
  it("is evaluated after the restart and recorded, not skipped (metrics.jsonl has every round)", async () => {
    const { aggregator, port, settings, outputDir } = await startAggregator({ rounds: 3, numParties: 2, parties: partyList(2) });
    cleanup.push(() => aggregator.forceClose());
    // The aggregator dies after round 2's checkpoint and before its line: its line is never written.
    const append = aggregator.output.appendMetrics.bind(aggregator.output);
    aggregator.output.appendMetrics = async (metrics: RoundMetrics) => {
      if (metrics.round === 2) throw new Error("the aggregator died here");
      return append(metrics);
    };
    const learners = [new ArithmeticLearner(manifest, 10, 1), new ArithmeticLearner(manifest, 30, 2)];
    for (const party of startParties(port, learners, cleanup)) party.catch(() => undefined);
    await expect(aggregator.run()).rejects.toThrow(/died here/);
    aggregator.forceClose();
    expect((await readRoundLines(outputDir)).map((l) => l.round)).toEqual([1]);
    expect(await readdir(join(outputDir, "checkpoints"))).toContain("round-0002.bin");

    const summary = await restart(settings, [new ArithmeticLearner(manifest, 10, 1), new ArithmeticLearner(manifest, 30, 2)]);
    const lines = await readRoundLines(outputDir);
    expect(lines.map((l) => l.round)).toEqual([1, 2, 3]);
    // Round 2's line: its training side from the checkpoint, its evaluation done after the restart.
    // FedAvg of offsets 1 (10 examples) and 2 (30 examples) is 1.75 a round: round 2's model holds 3.5.
    expect(lines[1].recovered).toBe(RECOVERED_EVALUATED);
    expect(lines[1].parties.sort()).toEqual(["party0", "party1"]);
    expect(lines[1].examples).toBe(40);
    expect(lines[1].eval.probe).toBeCloseTo(3.5, 5);
    expect(lines[1].by_party.party1.eval.probe).toBeCloseTo(3.5, 5);
    expect(lines[2].eval.probe).toBeCloseTo(5.25, 5);
    expect(summary.rounds_completed).toBe(3);
  }, 60_000);
});

describe.skipIf(tmpfsSkipReason !== undefined)(`disk faults on a real tmpfs${tmpfsSkipReason ? ` (skipped: ${tmpfsSkipReason})` : ""}`, () => {
  it("a read-only output_dir stops the aggregator at start, naming the path, before any party joins", async () => {
    const disk = mountTmpfs(64, ["ro"]);
    const outputDir = join(disk, "run");
    const error = await startAggregator({ outputDir }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OutputDirError);
    expect((error as OutputDirError).exitCode).toBe(2);
    expect((error as Error).message).toContain(`output_dir ${outputDir}: not writable (EROFS)`);
  });

  it("ENOSPC mid-run fails with the file's path; once space is freed the restart records every round", async () => {
    // 16 KiB weights: checkpoints 0-2 and their metadata fit in 100 KiB, round 3's does not.
    const big: Manifest = { tensors: [{ name: "w", dtype: "float32", shape: [4096] }] };
    const disk = mountTmpfs(100);
    const outputDir = join(disk, "run");
    const { aggregator, port, settings } = await startAggregator({ rounds: 5, numParties: 1, parties: partyList(1), outputDir });
    cleanup.push(() => aggregator.forceClose());
    for (const party of startParties(port, [new ArithmeticLearner(big, 10, 1)], cleanup)) party.catch(() => undefined);
    const error = await aggregator.run().catch((e: unknown) => e);
    aggregator.forceClose();
    expect(error).toBeInstanceOf(FileIOError);
    expect((error as FileIOError).code).toBe("ENOSPC");
    expect((error as FileIOError).exitCode).toBe(1);
    expect((error as Error).message).toMatch(new RegExp(`^cannot (write|create|fsync|append to) ${disk}/run/\\S+: ENOSPC`));
    const before = (await readRoundLines(outputDir)).map((l) => l.round);
    expect(before.length).toBeLessThan(5);

    remountTmpfs(disk, 1024);
    const summary = await restart(settings, [new ArithmeticLearner(big, 10, 1)]);
    expect(summary.rounds_completed).toBe(5);
    const lines = await readRoundLines(outputDir);
    expect(lines.map((l) => l.round)).toEqual([1, 2, 3, 4, 5]);
    // Each round's model is the party's offset times the round: every line's evaluation says so.
    for (const line of lines) expect(line.eval.probe).toBeCloseTo(line.round, 5);
    expect(JSON.parse(await readFile(join(outputDir, "summary.json"), "utf8")).rounds_completed).toBe(5);
  }, 60_000);
});
