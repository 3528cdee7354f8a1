import { describe, expect, it } from "vitest";
import { roundMetrics } from "./round-metrics.js";

describe("roundMetrics", () => {
  it("weights training and evaluation metrics by examples, lists contributors and the missing, per party too", () => {
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
      train: { loss: 2.5 }, eval: { accuracy: 0.8 }, ms, bytes_in: 40, bytes_out: 80,
      by_party: {
        a: { examples: 100, train: { loss: 1 }, train_seconds: 2, eval: { accuracy: 0.5 } },
        b: { examples: 300, train: { loss: 3 }, train_seconds: 4, eval: {} },
      },
    });
  });
});
