import type { FusionAlgorithm } from "./fusion-section.js";
import type { IssueList } from "./issue-list.js";
import { number, oneOf, section } from "./schema-helpers.js";

/**
 * hyperparams.global.differential_privacy: DP-FedAvg's clipping and Gaussian noise, the
 * accountant's delta and the epsilon budget. Cross-field rules (one clipping, a fusion that
 * sums updates, the noise split of adaptive clipping) are checked by normalizePrivacy.
 */
export const privacySchema = section({
  mode: oneOf(["central", "distributed"] as const).default("central"),
  noise_multiplier: number({ min: 0 }),
  clipping_norm: number({ min: 0, exclusiveMin: true }).optional(),
  adaptive_clipping: section({
    target_quantile: number({ min: 0, max: 1, exclusiveMin: true, exclusiveMax: true }).default(0.5),
    learning_rate: number({ min: 0, exclusiveMin: true }).default(0.2),
    initial_norm: number({ min: 0, exclusiveMin: true }).default(0.1),
    clipped_count_stddev: number({ min: 0, exclusiveMin: true }).optional(),
  }).optional(),
  delta: number({ min: 0, max: 1, exclusiveMin: true, exclusiveMax: true }).default(1e-5),
  target_epsilon: number({ min: 0, exclusiveMin: true }).optional(),
  sampling_rate: number({ min: 0, max: 1, exclusiveMin: true }).default(1),
});

/** The section normalized (the shape of @cohort/fusion's DifferentialPrivacySettings). */
export interface PrivacySection {
  mode: "central" | "distributed";
  noiseMultiplier: number;
  clippingNorm?: number;
  adaptiveClipping?: { targetQuantile: number; learningRate: number; initialNorm: number; clippedCountStddev: number };
  delta: number;
  targetEpsilon?: number;
  samplingRate: number;
}

/** Fusion algorithms DP-FedAvg composes with: they fold a sum, whose sensitivity clipping bounds. */
export const DP_FUSION: readonly FusionAlgorithm[] = ["fedavg", "iteravg", "fedprox", "fedadam", "fedyogi", "fedadagrad", "fedavgm"];

type RawPrivacy = import("zod").output<typeof privacySchema>;

const PATH = ["hyperparams", "global", "differential_privacy"];

export function normalizePrivacy(raw: RawPrivacy, algorithm: FusionAlgorithm, numParties: number | undefined, issues: IssueList): PrivacySection {
  const out: PrivacySection = { mode: raw.mode, noiseMultiplier: raw.noise_multiplier, delta: raw.delta, samplingRate: raw.sampling_rate };
  if ((raw.clipping_norm === undefined) === (raw.adaptive_clipping === undefined)) {
    issues.add(PATH, "expected exactly one of clipping_norm (a fixed clip norm) and adaptive_clipping (a norm that tracks a quantile of the update norms)");
  }
  if (raw.clipping_norm !== undefined) out.clippingNorm = raw.clipping_norm;
  if (raw.adaptive_clipping !== undefined) {
    const a = raw.adaptive_clipping;
    // Andrew et al. use an expected number of parties / 20 for the count's noise.
    const stddev = a.clipped_count_stddev ?? Math.max(1, numParties ?? 1) / 20;
    out.adaptiveClipping = { targetQuantile: a.target_quantile, learningRate: a.learning_rate, initialNorm: a.initial_norm, clippedCountStddev: stddev };
    if (raw.mode === "distributed") issues.add([...PATH, "adaptive_clipping"], "got adaptive clipping with mode: distributed, expected clipping_norm (distributed noise would need each party's clipped bit, which the aggregator would then see per party)");
    if (raw.noise_multiplier > 0 && !(stddev > raw.noise_multiplier / 2)) {
      issues.add([...PATH, "adaptive_clipping", "clipped_count_stddev"], `got ${stddev}${a.clipped_count_stddev === undefined ? " (the default, num_parties / 20)" : ""}, expected more than noise_multiplier / 2 = ${raw.noise_multiplier / 2}: the count's noise takes a share of the privacy, and the update's must stay positive`);
    }
  }
  if (raw.target_epsilon !== undefined) out.targetEpsilon = raw.target_epsilon;
  if (!DP_FUSION.includes(algorithm)) {
    issues.add(["fusion", "name"], `got ${algorithm} with differential_privacy, expected one of ${DP_FUSION.join(", ")}: DP-FedAvg's noise covers a sum of clipped updates, not a median or a selection`);
  }
  return out;
}
