import { access, readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { TrainSettings } from "@cohort/party";
import type { Manifest } from "@cohort/tensors";
import { ArithmeticLearner } from "./helpers/arithmetic-learner.js";
import { partyList, runParties, startAggregator, startParties } from "./helpers/federation.js";

/** Strategies through the real round over loopback gRPC: what reaches the parties, and what comes back. */
const manifest: Manifest = { tensors: [{ name: "w", dtype: "float32", shape: [64] }] };
const cleanup: (() => void)[] = [];
afterEach(() => { cleanup.splice(0).forEach((f) => f()); });

class Recording extends ArithmeticLearner {
  readonly seen: TrainSettings[] = [];
  override async train(settings: TrainSettings) {
    this.seen.push(settings);
    return super.train(settings);
  }
}

describe("the fusion seam in a federation", () => {
  it("FedProx's mu travels with the round's hyperparameters to every party", async () => {
    const { aggregator, port, outputDir } = await startAggregator({ algorithm: "fedprox", fusionParams: { mu: 0.05 }, numParties: 2, parties: partyList(2), rounds: 2 });
    cleanup.push(() => aggregator.forceClose());
    const learners = [new Recording(manifest, 100, 1), new Recording(manifest, 300, 2)];
    const { lines } = await runParties(aggregator, port, outputDir, learners, cleanup);
    for (const l of learners) expect(l.seen.map((s) => s.proximalMu)).toEqual([0.05, 0.05]);
    expect(lines[1].eval.probe).toBeCloseTo(2 * 1.75, 5); // FedAvg's mean: (100 * 1 + 300 * 2) / 400 a round
  }, 60_000);

  it("FedAvgM steps along the server momentum of the mean change; parties of FedAvg get no mu", async () => {
    const { aggregator, port, outputDir } = await startAggregator({ algorithm: "fedavgm", fusionParams: { eta: 1, momentum: 0.9 }, numParties: 2, parties: partyList(2), rounds: 2 });
    cleanup.push(() => aggregator.forceClose());
    const learners = [new Recording(manifest, 100, 1), new Recording(manifest, 100, 2)];
    const { lines } = await runParties(aggregator, port, outputDir, learners, cleanup);
    // Each round's mean change is 1.5: m1 = 1.5, x1 = 1.5; m2 = 0.9 * 1.5 + 1.5 = 2.85, x2 = 4.35.
    expect(lines[0].eval.probe).toBeCloseTo(1.5, 5);
    expect(lines[1].eval.probe).toBeCloseTo(4.35, 5);
    expect(learners[0].seen[0].proximalMu).toBeUndefined();
  }, 60_000);

  it("a server step that leaves float32's range fails the round: no checkpoint of a non-finite model", async () => {
    const { aggregator, port, outputDir } = await startAggregator({ algorithm: "fedavgm", fusionParams: { eta: 3e38, momentum: 0 }, numParties: 2, parties: partyList(2), rounds: 2 });
    cleanup.push(() => aggregator.forceClose());
    const run = aggregator.run();
    const parties = startParties(port, [new Recording(manifest, 100, 1), new Recording(manifest, 100, 2)], cleanup);
    const [summary] = await Promise.all([run, ...parties]);
    expect(summary.rounds_completed).toBe(0);
    expect(summary.stopped_because).toBe("round 1 failed: the fused model's tensor w holds Infinity");
    await expect(access(join(outputDir, "checkpoints", "round-0001.bin"))).rejects.toThrow(/ENOENT/);
  }, 60_000);

  it("a FedAdam run stopped after round 2 and resumed ends on the very bytes of an uninterrupted run (its moments are checkpointed)", async () => {
    const settings = { algorithm: "fedadam" as const, fusionParams: { eta: 0.5, beta1: 0.8, beta2: 0.9, tau: 0.01 }, numParties: 2, parties: partyList(2), rounds: 4 };
    const learners = () => [new Recording(manifest, 100, 1), new Recording(manifest, 300, 2)];
    const whole = await startAggregator(settings);
    cleanup.push(() => whole.aggregator.forceClose());
    await runParties(whole.aggregator, whole.port, whole.outputDir, learners(), cleanup);

    const first = await startAggregator(settings);
    cleanup.push(() => first.aggregator.forceClose());
    const stopped = learners();
    // Round 3's training takes a while, and the aggregator is stopped in it: round 2's checkpoint is the last.
    for (const l of stopped) l.trainDelayMs = (round) => (round === 3 ? 2_000 : 0);
    const watch = setInterval(() => { if (first.aggregator.currentRound() === 3) first.aggregator.requestStop(); }, 5);
    const { summary } = await runParties(first.aggregator, first.port, first.outputDir, stopped, cleanup).finally(() => clearInterval(watch));
    expect(summary.rounds_completed).toBe(2);
    first.aggregator.forceClose();

    const resumed = await startAggregator({ ...settings, outputDir: first.outputDir });
    cleanup.push(() => resumed.aggregator.forceClose());
    const { lines } = await runParties(resumed.aggregator, resumed.port, first.outputDir, learners(), cleanup);
    expect(lines.map((l) => l.round)).toEqual([1, 2, 3, 4]);
    const final = (dir: string) => readFile(join(dir, "checkpoints", "round-0004.bin"));
    expect(await final(first.outputDir)).toEqual(await final(whole.outputDir));
    // Started afresh (m = 0, v = tau^2), round 3 would have stepped elsewhere: the state is what made them equal.
    expect((await readFile(join(first.outputDir, "checkpoints", "round-0002.state.bin"))).byteLength).toBe(2 * 64 * 8);
  }, 60_000);
});
