import { describe, expect, it } from "vitest";
import { roundMetrics } from "./round-metrics.js";

describe("roundMetrics", () => {
  it("weights training metrics by examples and evaluation by examples capped at the median count, lists contributors and the missing, per party too", () => {
    const updates = {
      results: new Map([
        ["a", { numExamples: 100, metrics: { loss: 1 }, trainSeconds: 2 }],
        ["b", { numExamples: 300, metrics: { loss: 3 }, trainSeconds: 4 }],
      ]),
      missing: ["c"], late: ["c"], reason: "deadline" as const,
    };
    const reports = {
      results: new Map([["a", { round: 1, numExamples: 10, metrics: { accuracy: 0.5 } }], ["c", { round: 1, numExamples: 30, metrics: { accuracy: 0.9 } }]]),
      missing: ["b"], late: [], reason: "complete" as const,
    };
    const ms = { train: 5, fuse: 1, checkpoint: 2, eval: 3, round: 11 };
    const line = roundMetrics(1, updates, reports, ms, { in: 40, out: 80 });
    expect(line).toEqual({
      round: 1, parties: ["a", "b"], missing: ["c"], examples: 400,
      // Evaluation: a 10 examples, c 30 capped at the median count 20: (0.5 * 10 + 0.9 * 20) / 30.
      train: { loss: 2.5 }, eval: { accuracy: (0.5 * 10 + 0.9 * 20) / 30 }, eval_parties: 2, ms, bytes_in: 40, bytes_out: 80,
      by_party: {
        a: { examples: 100, train: { loss: 1 }, train_seconds: 2, eval: { accuracy: 0.5 } },
        b: { examples: 300, train: { loss: 3 }, train_seconds: 4, eval: {} },
      },
    });
  });

  it("a party claiming 2^53 - 1 evaluation examples weighs as much as a typical party, not more", () => {
    const updates = { results: new Map(), missing: [], late: [], reason: "complete" as const };
    const reports = {
      results: new Map([
        ["honest1", { round: 1, numExamples: 1000, metrics: { accuracy: 0.81 } }],
        ["honest2", { round: 1, numExamples: 1200, metrics: { accuracy: 0.84 } }],
        ["liar", { round: 1, numExamples: Number.MAX_SAFE_INTEGER, metrics: { accuracy: 1 } }],
      ]),
      missing: [], late: [], reason: "complete" as const,
    };
    const line = roundMetrics(1, updates, reports, { train: 0, fuse: 0, checkpoint: 0, eval: 0, round: 0 }, { in: 0, out: 0 });
    // Median count 1200: (0.81 * 1000 + 0.84 * 1200 + 1 * 1200) / 3400.
    expect(line.eval.accuracy).toBeCloseTo((810 + 1008 + 1200) / 3400, 12);
    expect(line.eval.accuracy).toBeLessThan(0.9);
  });
});
