import type { Manifest, WeightSet } from "@cohort/tensors";

import type { LocalHyperparams } from "@cohort/config";

/** The local hyperparameters of one round: the aggregator's, with the party's overrides. */
export type TrainSettings = LocalHyperparams & {
  /** FedProx: the weight mu of the proximal term mu/2 * ||w - w_global||^2 (sent by the aggregator; absent or 0: off). */
  proximalMu?: number;
};

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
  /** Size of the evaluation data, declared at join: the aggregator bounds evaluation reports by it. */
  readonly numTestExamples?: number;
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
