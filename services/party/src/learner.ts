import type { Manifest, WeightSet } from "@cohort/tensors";

import type { LocalHyperparams } from "@cohort/config";

/** The local hyperparameters of one round: the aggregator's, with the party's overrides. */
export type TrainSettings = LocalHyperparams;

export interface TrainResult {
  numExamples: number;
  metrics: Record<string, number>;
  seconds: number;
  /** Training samples processed per second of `seconds` (all epochs), when the learner counts them. */
  samplesPerSecond?: number;
}

export interface EvaluateResult {
  numExamples: number;
  metrics: Record<string, number>;
}

/**
 * A party's model and local data, as the federation protocol sees them. The TF.js
 * implementation trains with model.fit; tests and simulations may plug in others.
 */
export interface LocalLearner {
  readonly manifest: Manifest;
  readonly numTrainExamples: number;
  readonly backend: string;
  /** TF.js layers topology JSON, sent at join so the aggregator can export the global model. */
  readonly topology?: string;
  getWeights(): WeightSet;
  setWeights(weights: WeightSet): void;
  train(settings: TrainSettings, onEpoch?: (epoch: number, metrics: Record<string, number>) => void): Promise<TrainResult>;
  evaluate(): Promise<EvaluateResult>;
  /** The party is leaving: a train() in progress returns after its current batch. */
  stop?(): void;
}
