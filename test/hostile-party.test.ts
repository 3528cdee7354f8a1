import { afterEach, describe, expect, it } from "vitest";
import type { AggregatorSettings } from "@cohort/aggregator";
import { Party, PartyRefusedError } from "@cohort/party";
import { AggregatorMetrics } from "@cohort/telemetry";
import type { Manifest } from "@cohort/tensors";
import { ArithmeticLearner } from "./helpers/arithmetic-learner.js";
import { partyList, readRoundLines, startAggregator, testLogger } from "./helpers/federation.js";

/**
 * The hostile operator: one allow-listed party that follows the protocol but lies, next
 * to two honest ones (quorum 2 of 3). Honest parties add 1 and 2 to every weight over 100
 * examples each, and evaluate at 0.81 and 0.84 accuracy over 10 examples.
 */
const manifest: Manifest = { tensors: [{ name: "w", dtype: "float32", shape: [10] }] };
const cleanup: (() => void)[] = [];
afterEach(() => { cleanup.splice(0).forEach((f) => f()); });

class Honest extends ArithmeticLearner {
  constructor(offset: number, private readonly accuracy: number) { super(manifest, 100, offset); }
  override async evaluate() {
    const { numExamples, metrics } = await super.evaluate();
    return { numExamples, metrics: { ...metrics, accuracy: this.accuracy } };
  }
}

/** Trains to `value` in every weight and claims `trainClaim` examples; claims accuracy 1 over `evalClaim` examples. */
class Liar extends ArithmeticLearner {
  constructor(private readonly value: number, private readonly trainClaim: number, private readonly evalClaim: number) { super(manifest, 100, 0); }
  override async train() {
    this.setWeights(manifest.tensors.map((t) => ({ ...t, data: new Float32Array(10).fill(this.value) })));
    return { numExamples: this.trainClaim, metrics: { loss: 0.01, accuracy: 1 }, seconds: 0 };
  }
  override async evaluate() {
    // The probe (the global model's weight) is reported truly: only accuracy and the count lie.
    const { metrics } = await super.evaluate();
    return { numExamples: this.evalClaim, metrics: { ...metrics, accuracy: 1 } };
  }
}

async function federation(liar: Liar, overrides: Partial<AggregatorSettings>, honest: ArithmeticLearner[] = [new Honest(1, 0.81), new Honest(2, 0.84)]) {
  const metrics = new AggregatorMetrics();
  const { aggregator, port, outputDir } = await startAggregator({ numParties: 3, percQuorum: 0.66, rounds: 3, parties: partyList(3), maxTimeoutMs: 10_000, ...overrides }, { metrics });
  cleanup.push(() => aggregator.forceClose());
  const learners = [...honest, liar];
  const run = aggregator.run();
  const parties = learners.map((learner, i) => {
    const p = new Party({ name: `party${i}`, token: `token-of-party-${i}`, host: "127.0.0.1", port, reconnect: { initialDelayMs: 50, maxDelayMs: 200, maxAttempts: 3 } }, learner, testLogger(`party${i}`));
    cleanup.push(() => p.close());
    // A refused party stops (its run rejects): closing it lets the aggregator see it leave at once.
    return p.run().catch((error: unknown) => {
      p.close();
      return error;
    });
  });
  const summary = await run;
  const ends = await Promise.all(parties);
  return { summary, ends, lines: await readRoundLines(outputDir), scrape: await metrics.registry.metrics() };
}

describe("a party that follows the protocol but lies cannot break the model", () => {
  it("an evaluation of accuracy 1.0 over 2^53 - 1 examples is refused and cannot end the run by termination_accuracy", async () => {
    const { summary, ends, lines, scrape } = await federation(new Liar(0, 100, Number.MAX_SAFE_INTEGER), { terminationAccuracy: 0.99 });
    expect(summary.rounds_completed).toBe(3);
    expect(summary.stopped_because).toBe("all rounds completed");
    expect(lines[0].eval.accuracy).toBeCloseTo((0.81 + 0.84) / 2, 10);
    expect(lines[0].eval_parties).toBe(2);
    expect(ends[2]).toBeInstanceOf(PartyRefusedError);
    expect((ends[2] as Error).message).toMatch(/num_examples 9007199254740991 exceeds the 10 evaluation examples declared at join/);
    expect(scrape).toMatch(/cohort_aggregator_refused_reports_total\{reason="examples_over_declared"\} 1/);
  }, 60_000);

  it("one party's accuracy 1.0 cannot end the run when the others have nothing to evaluate on (quorum 2)", async () => {
    const blind = (offset: number) => Object.assign(new Honest(offset, 0.5), { evaluate: async () => ({ numExamples: 0, metrics: {} }) });
    const { summary, lines } = await federation(new Liar(0, 100, 10), { terminationAccuracy: 0.99, rounds: 2 }, [blind(1), blind(2)]);
    expect(lines[0].eval.accuracy).toBe(1);
    expect(lines[0].eval_parties).toBe(1);
    expect(summary.rounds_completed).toBe(2);
    expect(summary.stopped_because).toBe("all rounds completed");
  }, 60_000);

  it("termination_accuracy still ends the run once quorum parties' evaluation reaches it", async () => {
    const { summary, lines } = await federation(new Liar(0, 100, 10), { terminationAccuracy: 0.8, rounds: 3 });
    expect(lines[0].eval.accuracy).toBeCloseTo((0.81 + 0.84 + 1) / 3, 10);
    expect(summary.rounds_completed).toBe(1);
    expect(summary.stopped_because).toBe("termination accuracy 0.8 reached");
  }, 60_000);

  it("an update of 1e30 in every weight claiming 10^12 examples is refused; the honest parties' round goes on", async () => {
    const { summary, lines, scrape } = await federation(new Liar(1e30, 1e12, 10), { rounds: 2 });
    expect(summary.rounds_completed).toBe(2);
    expect(lines[0].parties.sort()).toEqual(["party0", "party1"]);
    expect(lines[0].fusion).toEqual({ refused: ["party2"] });
    expect(lines[1].eval.probe).toBeCloseTo(2 * 1.5, 5);
    // The liar stays and lies again in round 2: refused each time.
    expect(lines[1].fusion).toEqual({ refused: ["party2"] });
    expect(scrape).toMatch(/cohort_aggregator_rejected_updates_total\{reason="examples_over_declared"\} 2/);
  }, 60_000);

  it("max_update_norm clips an update of 1e30 with an honest count to the bound (or refuses it)", async () => {
    const clip = await federation(new Liar(1e30, 100, 10), { rounds: 1, maxUpdateNorm: 100 });
    // The liar's change is clipped to norm 100 over 10 equal weights: 100 / sqrt(10) each; equal example counts.
    expect(clip.lines[0].eval.probe).toBeCloseTo((1 + 2 + 100 / Math.sqrt(10)) / 3, 4);
    expect(clip.lines[0].fusion).toEqual({ clipped: ["party2"] });
    expect(clip.scrape).toMatch(/cohort_aggregator_clipped_updates_total 1/);
    const refuse = await federation(new Liar(1e30, 100, 10), { rounds: 1, maxUpdateNorm: 100, updateNormAction: "refuse" });
    expect(refuse.lines[0].eval.probe).toBeCloseTo(1.5, 5);
    expect(refuse.lines[0].fusion).toEqual({ refused: ["party2"] });
    expect(refuse.scrape).toMatch(/cohort_aggregator_rejected_updates_total\{reason="update_norm"\} 1/);
  }, 60_000);

  it("with no bound set, the coordinate median and Krum leave the liar's 1e30 out of the model", async () => {
    const median = await federation(new Liar(1e30, 100, 10), { rounds: 1, algorithm: "coordinate-median" });
    expect(median.lines[0].eval.probe).toBe(2); // median of 1, 2 and 1e30
    const krum = await federation(new Liar(1e30, 100, 10), { rounds: 1, algorithm: "multi-krum", fusionParams: { byzantine: 1, keep: 2 } });
    expect(krum.lines[0].eval.probe).toBeCloseTo(1.5, 5);
    expect(krum.lines[0].fusion?.krum_selected).toEqual(["party0", "party1"]);
  }, 60_000);
});
