import type { Manifest } from "@cohort/tensors";
import type { WeightedSum } from "./accumulator.js";
import type { StagedBytes } from "./staging.js";

/**
 * The seam between a round and its fusion algorithm (Flower's Strategy is the model): the round
 * asks the strategy what to send the parties with their train instruction (configureTrain) and
 * how to fold what comes back (weightOf / aggregate). A strategy knows nothing of gRPC, parties'
 * connections or checkpoints: it sees staged bytes, example counts and the previous global model.
 */
export interface FusionStrategy {
  /** The normalized name (fedavg, coordinate-median, ...), for logs and the run summary. */
  readonly name: string;
  /**
   * "stream": each verified update is folded into the round's WeightedSum as it arrives, with
   * weightOf's weight, and released at once (memory: the float64 sums). "staged": updates stay
   * staged (in the staging budget's memory, the rest spilled to disk) until the round closes and
   * aggregate reads the same slice of every one together.
   */
  readonly mode: "stream" | "staged";
  /** What each party gets with the round's train instruction beyond the local hyperparameters (`participants`: the round's party count). */
  configureTrain(round: number, participants?: number): TrainConfig;
  /** An update's weight in the round's sum (stream mode). */
  weightOf(update: { numExamples: number }): number;
  /**
   * The round's new global model, packed in manifest order, as consecutive slices (each valid
   * until the next is asked for); fills the round's `report` on the way.
   */
  aggregate(round: RoundInput): AsyncGenerator<Uint8Array, void, undefined>;
  /**
   * Optional, for strategies that carry state from round to round (a server optimizer's moments):
   * that state after the last aggregate, which the round checkpoints with the model; undefined
   * before the first round. A resumed run hands it back to restoreState.
   */
  saveState?(): StrategyState | undefined;
  /** Takes back a checkpointed state; throws RangeError when it does not fit this strategy or model. */
  restoreState?(state: StrategyState, manifest: Manifest): void;
}

/** A strategy's state as checkpointed: named float64 arrays (one value per weight, say), in order. */
export interface StrategyState {
  /** The strategy that saved it (its normalized name): another strategy refuses it. */
  strategy: string;
  arrays: { name: string; values: Float64Array }[];
}

/** Sent to every party with the train instruction. */
export interface TrainConfig {
  /** FedProx's mu: the party adds mu/2 * ||w - w_global||^2 to its local loss (0: off). */
  proximalMu: number;
  /** Distributed DP: each party clips its update to clipNorm and adds N(0, noiseStddev^2) per coordinate before upload. */
  privacy?: { clipNorm: number; noiseStddev: number };
}

/** A readable packed model (the previous global weights), by byte range. */
export interface ModelSlices {
  read(offset: number, length: number): Uint8Array | Promise<Uint8Array>;
}

/** A staged update of the round with what its party declared. */
export interface StagedUpdate { party: string; staged: StagedBytes; numExamples: number }

export interface RoundInput {
  round: number;
  manifest: Manifest;
  /** The global model the round's parties trained from (round - 1). */
  previous: ModelSlices;
  /** Stream mode: the round's sum, every update folded. */
  sum?: WeightedSum;
  /** Staged mode: every accepted update, still staged. */
  updates: readonly StagedUpdate[];
  /** What the strategy decided, for the round's log line (Krum's chosen parties, say). */
  report: Record<string, unknown>;
  /** Bytes of float64 values a staged strategy reads per slice (default FOLD_SLICE_BYTES; tests make it small). */
  sliceBytes?: number;
}

/**
 * Why `strategy` cannot fuse a securely aggregated round (secure aggregation shows the aggregator
 * only the sum of updates, each pre-scaled by its party's weight: its examples, or 1 for strategies
 * that weigh parties equally), or undefined when it can.
 * Staged strategies read every update on its own (median, trimmed mean, Krum): they cannot.
 */
export function secureAggregationRefusal(strategy: FusionStrategy): string | undefined {
  if (strategy.mode === "staged") return `fusion ${strategy.name} needs every party's update on its own, and secure aggregation only reveals their sum: use fedavg, fedprox or a server optimizer (fedadam, fedyogi, fedadagrad, fedavgm)`;
  return undefined;
}
