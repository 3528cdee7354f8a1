import { afterEach, describe, expect, it } from "vitest";
import type { AggregatorSettings } from "@cohort/aggregator";
import { Party } from "@cohort/party";
import { AggregatorMetrics } from "@cohort/telemetry";
import type { Manifest } from "@cohort/tensors";
import { ArithmeticLearner } from "./helpers/arithmetic-learner.js";
import type { Logger } from "@cohort/telemetry";
import { capturingLogger, partyList, readRoundLines, startAggregator, testLogger } from "./helpers/federation.js";

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

async function federation(liar: Liar, overrides: Partial<AggregatorSettings>, honest: ArithmeticLearner[] = [new Honest(1, 0.81), new Honest(2, 0.84)], logger: (i: number) => Logger | undefined = () => undefined) {
  const metrics = new AggregatorMetrics();
  const { aggregator, port, outputDir } = await startAggregator({ numParties: 3, percQuorum: 0.66, rounds: 3, parties: partyList(3), maxTimeoutMs: 10_000, ...overrides }, { metrics });
  cleanup.push(() => aggregator.forceClose());
  const learners = [...honest, liar];
  const run = aggregator.run();
  const parties = learners.map((learner, i) => {
    const p = new Party({ name: `party${i}`, token: `token-of-party-${i}`, host: "127.0.0.1", port, reconnect: { initialDelayMs: 50, maxDelayMs: 200, maxAttempts: 3 } }, learner, logger(i) ?? testLogger(`party${i}`));
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
    // A refused report costs that report only: the liar stays, trains, and is refused again each round.
    expect(ends[2]).toBe("all rounds completed");
    expect(lines.map((l) => l.parties.length)).toEqual([3, 3, 3]);
    expect(scrape).toMatch(/cohort_aggregator_refused_reports_total\{reason="examples_over_declared"\} 3/);
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

  it("a party refused for a negative loss keeps its instruction stream and is folded in the next round; a NaN evaluation loss is refused too", async () => {
    /** Honest weights, but round 1's training loss is reported as -3 and its evaluation loss as NaN. */
    class LiesInRoundOne extends Honest {
      override async train(settings: Parameters<Honest["train"]>[0]) {
        const result = await super.train(settings);
        return this.trainedRounds === 1 ? { ...result, metrics: { loss: -3 } } : result;
      }
      override async evaluate() {
        const report = await super.evaluate();
        return this.trainedRounds === 1 ? { ...report, metrics: { ...report.metrics, loss: Number.NaN } } : report;
      }
    }
    const partyLog = capturingLogger("party2");
    const { summary, lines, scrape, ends } = await federation(new LiesInRoundOne(3, 0.9) as unknown as Liar, { rounds: 2 }, undefined, (i) => (i === 2 ? partyLog.log : undefined));
    expect(summary.rounds_completed).toBe(2);
    expect(lines[0].fusion).toEqual({ refused: ["party2"] });
    expect(lines[0].parties.sort()).toEqual(["party0", "party1"]);
    expect(lines[0].eval_parties).toBe(2); // its NaN evaluation is left out
    expect(ends).toEqual(["all rounds completed", "all rounds completed", "all rounds completed"]);
    expect(lines[1].parties.sort()).toEqual(["party0", "party1", "party2"]);
    expect(lines[1].fusion).toBeUndefined();
    // Round 1: the mean of +1 and +2 (1.5); round 2: + the mean of 1, 2 and 3 (2): 3.5.
    expect(lines[1].eval.probe).toBeCloseTo(3.5, 5);
    // The same session all along: one join, no reconnect.
    expect(partyLog.lines.filter((l) => l.msg === "joined the federation")).toHaveLength(1);
    expect(partyLog.lines.some((l) => l.msg === "update refused by the aggregator" && /metric loss is -3, out of its valid range/.test(String(l.reason)))).toBe(true);
    expect(partyLog.lines.some((l) => l.msg === "evaluation report refused by the aggregator" && /metric loss is NaN, expected a finite number/.test(String(l.reason)))).toBe(true);
    expect(scrape).toMatch(/cohort_aggregator_rejected_updates_total\{reason="metric_out_of_range"\} 1/);
    expect(scrape).toMatch(/cohort_aggregator_refused_reports_total\{reason="metric_out_of_range"\} 1/);
  }, 60_000);

  it("with fusion.negative_loss: accept, a negative loss (cosine similarity, say) is folded", async () => {
    class NegativeLoss extends Honest {
      override async train(settings: Parameters<Honest["train"]>[0]) {
        return { ...(await super.train(settings)), metrics: { loss: -0.9 } };
      }
    }
    const { lines } = await federation(new NegativeLoss(3, 0.9) as unknown as Liar, { rounds: 1, negativeLoss: "accept" });
    expect(lines[0].parties.sort()).toEqual(["party0", "party1", "party2"]);
    expect(lines[0].fusion).toBeUndefined();
  }, 60_000);
});
