import { type Quantization, maxSummands } from "./quantize.js";

/**
 * `hyperparams.global.secure_aggregation` as the config gives it. `threshold`: shares needed to
 * recover a secret, as a count (an integer >= 2) or as a fraction of the shares dealt (in
 * (0.5, 1]); each secret is dealt to the party's neighbours and itself.
 */
export interface SecureAggregationConfig {
  threshold?: number;
  clippingRange?: number;
  quantizationBits?: number;
  /** SecAgg+'s neighbourhood size k (unset or >= n - 1: every other party, classic SecAgg). */
  neighbours?: number;
}

export const DEFAULT_SECURE_AGGREGATION = Object.freeze({ threshold: 2 / 3, clippingRange: 8, quantizationBits: 22 });

/** One round's resolved parameters, sent to every participant with its train instruction. */
export interface RoundParams extends Quantization {
  /** Shares needed to recover one party's secret. */
  threshold: number;
  /** Neighbourhood size k. */
  neighbours: number;
  /** Sum of the participants' declared example counts: each pre-scales its update by n_i / this. */
  totalExamples: number;
  /** Equal weights (IterAvg, DP-FedAvg): totalExamples is the participants' count and each pre-scales by 1 / it. */
  equalWeights?: boolean;
}

export class SecureAggregationConfigError extends Error {
  constructor(readonly field: string, message: string) {
    super(`hyperparams.global.secure_aggregation.${field}: ${message}`);
    this.name = "SecureAggregationConfigError";
  }
}

/** Checks the config's fields (their own ranges; the round checks them against its parties). */
export function validateConfig(config: SecureAggregationConfig): Required<Omit<SecureAggregationConfig, "neighbours">> & Pick<SecureAggregationConfig, "neighbours"> {
  const merged = { ...DEFAULT_SECURE_AGGREGATION, ...config };
  const { threshold, clippingRange, quantizationBits, neighbours } = merged;
  if (!(threshold > 0.5 && threshold <= 1) && !(Number.isInteger(threshold) && threshold >= 2)) {
    throw new SecureAggregationConfigError("threshold", `expected a fraction in (0.5, 1] of the shares dealt or a count >= 2, got ${threshold}`);
  }
  if (!Number.isFinite(clippingRange) || clippingRange <= 0) throw new SecureAggregationConfigError("clipping_range", `expected a positive number, got ${clippingRange}`);
  if (!Number.isInteger(quantizationBits) || quantizationBits < 2 || quantizationBits > 30) {
    throw new SecureAggregationConfigError("quantization_bits", `expected an integer in [2, 30], got ${quantizationBits}`);
  }
  if (neighbours !== undefined && (!Number.isInteger(neighbours) || neighbours < 2)) {
    throw new SecureAggregationConfigError("neighbours", `expected an integer >= 2 (or unset: every other party), got ${neighbours}`);
  }
  return { threshold, clippingRange, quantizationBits, neighbours };
}

/**
 * A round's parameters for `parties` participants, or an error that says why the config cannot
 * protect them. The threshold must be a strict majority of the shares dealt (k + 1): two disjoint
 * sets of holders could otherwise each recover one of a party's two secrets, and with both the
 * aggregator would unmask that party's update.
 */
export function roundParams(config: SecureAggregationConfig, parties: number, totalExamples: number, equalWeights = false): RoundParams {
  const c = validateConfig(config);
  if (parties < 2) throw new SecureAggregationConfigError("threshold", `secure aggregation needs at least 2 parties in a round, got ${parties}`);
  if (parties > maxSummands(c.quantizationBits)) {
    throw new SecureAggregationConfigError("quantization_bits", `${c.quantizationBits} bits let at most ${maxSummands(c.quantizationBits)} parties be summed in 32 bits, the round has ${parties}`);
  }
  let k = c.neighbours === undefined || c.neighbours >= parties - 1 ? parties - 1 : c.neighbours;
  if (k % 2 === 1 && parties % 2 === 1 && k < parties - 1) k += 1;
  const dealt = k + 1;
  const threshold = c.threshold <= 1 ? Math.max(Math.floor(dealt / 2) + 1, Math.ceil(c.threshold * dealt)) : c.threshold;
  if (threshold > dealt) throw new SecureAggregationConfigError("threshold", `${threshold} shares needed but each party deals only ${dealt} (its ${k} neighbours and itself)`);
  if (threshold <= dealt / 2) throw new SecureAggregationConfigError("threshold", `${threshold} of ${dealt} shares is not a majority: the aggregator could recover both secrets of a party`);
  return { threshold, neighbours: k, clippingRange: c.clippingRange, bits: c.quantizationBits, ...(equalWeights ? { totalExamples: parties, equalWeights } : { totalExamples }) };
}
