/**
 * Bounds on what a party reports about itself, which every deployment gets: a party that follows
 * the protocol but lies must not decide the global model's weight or the run's end by a number.
 */

/** Metrics whose valid range is [0, 1] (fractions of examples). */
const FRACTION_METRIC = /(^|_)(acc|accuracy|precision|recall|auc|f1)$|accuracy$/i;
/** Metrics that are finite and >= 0 (losses and errors). */
const NON_NEGATIVE_METRIC = /loss|(^|_)(mse|mae|rmse|error)$/i;

/** The loss itself: "loss", "val_loss", "<output>_loss". */
const LOSS_METRIC = /loss$/i;

export interface MetricBounds {
  /**
   * Whether the training loss may be negative (fusion.negative_loss: accept). Cross-entropy,
   * MSE, MAE, hinge, Huber, log-cosh and KL divergence are >= 0, so a negative one is a lie or a
   * bug (the default). Keras' cosine_similarity loss (-1..1), Poisson's, a Gaussian negative
   * log-likelihood or a custom loss can legitimately fall below 0: their deployments accept it.
   * Non-finite values are refused either way.
   */
  negativeLoss?: boolean;
}

/** Why `metrics` are out of their valid ranges, or undefined when they are all valid. */
export function metricViolation(metrics: Record<string, number>, bounds: MetricBounds = {}): string | undefined {
  for (const [name, value] of Object.entries(metrics)) {
    if (!Number.isFinite(value)) return `metric ${name} is ${value}, expected a finite number`;
    if (FRACTION_METRIC.test(name) && (value < 0 || value > 1)) return `metric ${name} is ${value}, out of its valid range [0, 1]`;
    if (bounds.negativeLoss && LOSS_METRIC.test(name)) continue;
    if (NON_NEGATIVE_METRIC.test(name) && value < 0) {
      const hint = LOSS_METRIC.test(name) ? " (fusion.negative_loss: accept for a loss that can be negative, such as cosine_similarity)" : "";
      return `metric ${name} is ${value}, out of its valid range [0, inf)${hint}`;
    }
  }
  return undefined;
}

/** Why `numExamples` exceeds what the party declared at join, or undefined. */
export function examplesViolation(numExamples: number, declared: number, what: string): string | undefined {
  if (numExamples > declared) return `num_examples ${numExamples} exceeds the ${declared} ${what} examples declared at join`;
  return undefined;
}

/**
 * Why an evaluation report breaks the bounds, with its metric label, or undefined. A party that
 * predates num_test_examples (0) is bounded by its training data's size.
 */
export function evaluationViolation(
  declared: { numTrainExamples: number; numTestExamples: number } | undefined, report: { numExamples: number; metrics: Record<string, number> },
  bounds: MetricBounds = {},
): { reason: string; code: "examples_over_declared" | "metric_out_of_range" } | undefined {
  const bound = declared?.numTestExamples || declared?.numTrainExamples || 0;
  const examples = examplesViolation(report.numExamples, bound, declared?.numTestExamples ? "evaluation" : "training");
  if (examples) return { reason: examples, code: "examples_over_declared" };
  const metric = metricViolation(report.metrics, bounds);
  return metric ? { reason: metric, code: "metric_out_of_range" } : undefined;
}

/**
 * The example-weighted mean of each evaluation metric with every party's count capped at the
 * median count of the reporting parties: one party that claims far more examples than the others
 * weighs as much as a typical party, not more.
 */
export function cappedEvaluation(reports: Iterable<{ numExamples: number; metrics: Record<string, number> }>): Record<string, number> {
  const list = [...reports].filter((r) => r.numExamples > 0);
  if (list.length === 0) return {};
  const counts = list.map((r) => r.numExamples).sort((a, b) => a - b);
  const half = counts.length >> 1;
  const cap = counts.length % 2 === 1 ? counts[half] : (counts[half - 1] + counts[half]) / 2;
  const sums: Record<string, number> = {};
  const weights: Record<string, number> = {};
  for (const { numExamples, metrics } of list) {
    const weight = Math.min(numExamples, cap);
    for (const [key, value] of Object.entries(metrics)) {
      if (!Number.isFinite(value)) continue;
      sums[key] = (sums[key] ?? 0) + value * weight;
      weights[key] = (weights[key] ?? 0) + weight;
    }
  }
  return Object.fromEntries(Object.keys(sums).map((k) => [k, sums[k] / weights[k]]));
}
