import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { Writable } from "node:stream";
import { afterEach, describe, expect, it } from "vitest";
import { Party } from "@cohort/party";
import type { Manifest } from "@cohort/tensors";
import { createLogger } from "@cohort/telemetry";
import { ArithmeticLearner } from "./helpers/arithmetic-learner.js";
import { startAggregator, testLogger } from "./helpers/federation.js";

const manifest: Manifest = { tensors: [{ name: "w", dtype: "float32", shape: [100] }] };
const cleanup: (() => void)[] = [];
afterEach(() => { cleanup.splice(0).forEach((f) => f()); });

/** Trains round 1 slower than the round's deadline, later rounds at once. */
class StragglingLearner extends ArithmeticLearner {
  constructor(manifest: Manifest, examples: number, offset: number, private readonly delayMs: number) {
    super(manifest, examples, offset);
  }

  override async train(settings: Parameters<ArithmeticLearner["train"]>[0]) {
    if (this.trainedRounds === 0) await new Promise((r) => setTimeout(r, this.delayMs));
    return super.train(settings);
  }
}

/** A logger whose JSON lines the test can read. */
function capturingLogger(service: string) {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({ write(chunk, _enc, done) { lines.push(JSON.parse(String(chunk))); done(); } });
  return { log: createLogger({ service, level: "info", destination }), lines };
}

describe("a slow party (straggler)", () => {
  it("does not hold the round past its deadline; its late update is refused with FAILED_PRECONDITION; it takes part in the next round", async () => {
    const { aggregator, port, outputDir } = await startAggregator({ rounds: 2, numParties: 3, percQuorum: 2 / 3, maxTimeoutMs: 1_000 });
    cleanup.push(() => aggregator.forceClose());
    const learners = [new ArithmeticLearner(manifest, 100, 1), new ArithmeticLearner(manifest, 300, 2), new StragglingLearner(manifest, 600, 4, 1_600)];
    const straggler = capturingLogger("party2");
    const runs = learners.map((learner, i) => {
      const p = new Party({ name: `party${i}`, token: `token-of-party-${i}`, host: "127.0.0.1", port }, learner, i === 2 ? straggler.log : testLogger(`party${i}`));
      cleanup.push(() => p.close());
      return p.run();
    });
    const summary = await aggregator.run();
    expect(await Promise.all(runs)).toEqual(Array(3).fill("all rounds completed"));
    expect(summary.rounds_completed).toBe(2);

    const lines = (await readFile(join(outputDir, "metrics.jsonl"), "utf8")).trim().split("\n").map((l) => JSON.parse(l));
    // Round 1 closed at its 1 s deadline on quorum (2 of 3), without the straggler.
    expect(lines[0].parties.sort()).toEqual(["party0", "party1"]);
    expect(lines[0].missing).toEqual(["party2"]);
    expect(lines[0].ms.train).toBeLessThan(1_500);
    // Its round-1 update arrived late and was refused with a clear status.
    const refusal = straggler.lines.find((l) => l.phase === "upload" && l.round === 1 && l.code);
    expect(refusal?.code).toBe("FAILED_PRECONDITION");
    expect(refusal?.reason).toMatch(/round 1 is not open for updates \(current round [12]\)/);
    // It was given round 2 and its update is in round 2's metrics.
    expect(lines[1].parties.sort()).toEqual(["party0", "party1", "party2"]);
    expect(lines[1].by_party.party2.examples).toBe(600);
  }, 30_000);
});
