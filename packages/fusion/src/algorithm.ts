/**
 * A fusion algorithm decides how much each update counts. FedAvg weighs by the party's number
 * of training examples (McMahan et al.); IterAvg (IBM FL's IterAvgFusionHandler) is the
 * unweighted mean. Both fold incrementally; algorithms that need every update at once
 * (median, trimmed mean, Krum) would read the same slice of every staged update instead.
 */
export type FusionAlgorithmName = "fedavg" | "iteravg";

export interface FusionAlgorithm {
  readonly name: FusionAlgorithmName;
  weightOf(update: { numExamples: number }): number;
}

const ALGORITHMS: Record<FusionAlgorithmName, FusionAlgorithm> = {
  fedavg: { name: "fedavg", weightOf: ({ numExamples }) => numExamples },
  iteravg: { name: "iteravg", weightOf: () => 1 },
};

export function fusionAlgorithm(name: FusionAlgorithmName): FusionAlgorithm {
  return ALGORITHMS[name];
}
