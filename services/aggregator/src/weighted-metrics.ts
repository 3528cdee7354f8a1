/** Example-weighted mean of each metric over the parties that reported it. */
export function weightedMetrics(reports: Iterable<{ numExamples: number; metrics: Record<string, number> }>): Record<string, number> {
  const sums: Record<string, number> = {};
  const weights: Record<string, number> = {};
  for (const { numExamples, metrics } of reports) {
    for (const [key, value] of Object.entries(metrics)) {
      if (!Number.isFinite(value) || numExamples <= 0) continue;
      sums[key] = (sums[key] ?? 0) + value * numExamples;
      weights[key] = (weights[key] ?? 0) + numExamples;
    }
  }
  return Object.fromEntries(Object.keys(sums).map((k) => [k, sums[k] / weights[k]]));
}
