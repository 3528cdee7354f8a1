import { describe, expect, it } from "vitest";
import { cappedEvaluation, evaluationViolation, examplesViolation, metricViolation } from "./report-bounds.js";

describe("report bounds", () => {
  it("accepts metrics in their ranges and names the first one out of range", () => {
    expect(metricViolation({ accuracy: 0.9, loss: 0.3, val_accuracy: 1, precision: 0, custom: -5 })).toBeUndefined();
    expect(metricViolation({ accuracy: 1.0000001 })).toBe("metric accuracy is 1.0000001, out of its valid range [0, 1]");
    expect(metricViolation({ val_acc: -0.1 })).toMatch(/val_acc is -0.1, out of its valid range \[0, 1\]/);
    expect(metricViolation({ loss: -1 })).toMatch(/loss is -1, out of its valid range \[0, inf\)/);
    expect(metricViolation({ mse: -0.5 })).toMatch(/mse is -0.5/);
    expect(metricViolation({ custom: Infinity })).toBe("metric custom is Infinity, expected a finite number");
  });

  it("refuses a negative loss unless the deployment's loss can be negative; a non-finite one always", () => {
    expect(metricViolation({ loss: -0.7 })).toBe("metric loss is -0.7, out of its valid range [0, inf) (fusion.negative_loss: accept for a loss that can be negative, such as cosine_similarity)");
    expect(metricViolation({ val_loss: -0.7 })).toMatch(/^metric val_loss is -0.7/);
    expect(metricViolation({ loss: -0.7, val_loss: -0.2 }, { negativeLoss: true })).toBeUndefined();
    expect(metricViolation({ loss: Number.NaN }, { negativeLoss: true })).toBe("metric loss is NaN, expected a finite number");
    expect(metricViolation({ loss: -Infinity }, { negativeLoss: true })).toBe("metric loss is -Infinity, expected a finite number");
    // Only the loss: an error metric is still >= 0, an accuracy still in [0, 1].
    expect(metricViolation({ loss: -1, mae: -1 }, { negativeLoss: true })).toMatch(/^metric mae is -1/);
    expect(evaluationViolation({ numTrainExamples: 10, numTestExamples: 10 }, { numExamples: 5, metrics: { loss: -1 } }, { negativeLoss: true })).toBeUndefined();
  });

  it("bounds num_examples by what the party declared at join", () => {
    expect(examplesViolation(100, 100, "training")).toBeUndefined();
    expect(examplesViolation(101, 100, "training")).toBe("num_examples 101 exceeds the 100 training examples declared at join");
  });

  it("bounds an evaluation report by the declared test size, else (an older party) the training size", () => {
    expect(evaluationViolation({ numTrainExamples: 100, numTestExamples: 20 }, { numExamples: 21, metrics: {} })).toEqual({
      reason: "num_examples 21 exceeds the 20 evaluation examples declared at join", code: "examples_over_declared",
    });
    expect(evaluationViolation({ numTrainExamples: 100, numTestExamples: 0 }, { numExamples: 100, metrics: { accuracy: 0.5 } })).toBeUndefined();
    expect(evaluationViolation({ numTrainExamples: 100, numTestExamples: 0 }, { numExamples: 50, metrics: { accuracy: 2 } })?.code).toBe("metric_out_of_range");
    expect(evaluationViolation(undefined, { numExamples: 1, metrics: {} })?.code).toBe("examples_over_declared");
  });

  it("caps each party's evaluation weight at the median count", () => {
    const reports = [
      { numExamples: 100, metrics: { accuracy: 0.8 } },
      { numExamples: 300, metrics: { accuracy: 0.9 } },
      { numExamples: 1e15, metrics: { accuracy: 1 } },
    ];
    // Median 300: weights 100, 300, 300.
    expect(cappedEvaluation(reports).accuracy).toBeCloseTo((80 + 270 + 300) / 700, 12);
    // Equal counts: the plain example-weighted mean.
    expect(cappedEvaluation([{ numExamples: 5, metrics: { loss: 1 } }, { numExamples: 5, metrics: { loss: 3 } }])).toEqual({ loss: 2 });
    expect(cappedEvaluation([{ numExamples: 0, metrics: { loss: 1 } }])).toEqual({});
  });
});
