import { afterEach, describe, expect, it } from "vitest";
import type { Manifest } from "@cohort/tensors";
import type { TrainSettings } from "@cohort/party";
import { ArithmeticLearner } from "./helpers/arithmetic-learner.js";
import { Aggregator } from "@cohort/aggregator";
import { capturingLogger, partyList, readRoundLines, startParties, testLogger } from "./helpers/federation.js";
import { tempDir } from "./helpers/temp-dirs.js";

const manifest: Manifest = { tensors: [{ name: "w", dtype: "float32", shape: [16] }] };
const cleanup: (() => void)[] = [];
afterEach(() => { cleanup.splice(0).forEach((f) => f()); });

/** A learner whose local training always throws. */
class AlwaysFailing extends ArithmeticLearner {
  override async train(): Promise<never> {
    throw new Error("custom loss: labels must be one-hot");
  }
}

/** A learner whose local training of round 1 throws, as a custom loss refusing integer labels would inside model.fit. */
class FailingOnce extends ArithmeticLearner {
  private failed = false;
  override async train(settings: TrainSettings) {
    if (!this.failed) {
      this.failed = true;
      throw new Error("custom loss half_mse: expected one-hot labels of shape [n, 10], got class ids of shape [n]");
    }
    return super.train(settings);
  }
}

describe("a party whose local training fails", () => {
  it("logs a training error with the cause, reports it, and the aggregator drops it from that round at once with the reason; it takes part in the next round", async () => {
    const aggregatorLog = capturingLogger("aggregator");
    // max_timeout 20 s: the round must close long before it, on the report.
    const outputDir = await tempDir("cohort-run-");
    const aggregator = new Aggregator({
      host: "127.0.0.1", port: 0, chunkSize: 64 * 1024, algorithm: "fedavg", rounds: 2, numParties: 3, percQuorum: 2 / 3,
      maxTimeoutMs: 20_000, local: { epochs: 1, batchSize: 32, validationSplit: 0 }, outputDir, parties: partyList(3),
    }, aggregatorLog.log);
    const port = await aggregator.start();
    cleanup.push(() => aggregator.forceClose());
    const failing = capturingLogger("party2");
    const learners = [new ArithmeticLearner(manifest, 100, 1), new ArithmeticLearner(manifest, 100, 2), new FailingOnce(manifest, 100, 4)];
    const runs = startParties(port, learners, cleanup, { logger: (i) => (i === 2 ? failing.log : testLogger(`party${i}`)) });
    const started = Date.now();
    const summary = await aggregator.run();
    expect(await Promise.all(runs)).toEqual(Array(3).fill("all rounds completed"));
    expect(summary.rounds_completed).toBe(2);
    expect(Date.now() - started).toBeLessThan(10_000);

    const lines = await readRoundLines(outputDir);
    expect(lines[0].parties.sort()).toEqual(["party0", "party1"]);
    expect(lines[0].missing).toEqual(["party2"]);
    expect(lines[1].parties.sort()).toEqual(["party0", "party1", "party2"]);

    const drop = aggregatorLog.lines.find((l) => l.party === "party2" && l.round === 1 && l.phase === "train" && l.level === 40);
    expect(drop?.msg).toBe("party2 dropped from round 1: its local training failed: custom loss half_mse: expected one-hot labels of shape [n, 10], got class ids of shape [n]");
    const error = failing.lines.find((l) => l.level === 50 && l.phase === "train");
    expect(error).toMatchObject({ round: 1, reason: expect.stringContaining("expected one-hot labels") });
    expect(error?.msg).toMatch(/^local training failed: custom loss half_mse/);
    expect(failing.lines.some((l) => l.msg === "training failure reported to the aggregator")).toBe(true);
    // Not mistaken for a lost link: no reconnect loop.
    expect(failing.lines.some((l) => l.phase === "reconnect")).toBe(false);
  });

  it("when the round cannot reach its quorum without that party, the run stops at once and says why", async () => {
    const outputDir = await tempDir("cohort-run-");
    const aggregator = new Aggregator({
      host: "127.0.0.1", port: 0, chunkSize: 64 * 1024, algorithm: "fedavg", rounds: 2, numParties: 2, percQuorum: 1,
      maxTimeoutMs: 20_000, local: { epochs: 1, batchSize: 32, validationSplit: 0 }, outputDir, parties: partyList(2),
    }, testLogger("aggregator"));
    const port = await aggregator.start();
    cleanup.push(() => aggregator.forceClose());
    startParties(port, [new ArithmeticLearner(manifest, 100, 1), new AlwaysFailing(manifest, 100, 2)], cleanup);
    const started = Date.now();
    const summary = await aggregator.run();
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(summary.failed_round).toBe(1);
    expect(summary.stopped_because).toBe("round 1 failed: fewer than 2 updates (party1's local training failed: custom loss: labels must be one-hot)");
  });
});
