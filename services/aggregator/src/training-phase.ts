import type { FusionStrategy, StagedUpdate, WeightedSum } from "@cohort/fusion";
import type { AggregatorMetrics, Logger } from "@cohort/telemetry";
import type { Collector } from "./collector.js";
import type { RoundDeadlines } from "./deadlines.js";
import type { ModelStore } from "./model-store.js";
import type { PartyRegistry } from "./registry.js";
import type { UpdateMeta } from "./round-metrics.js";
import type { SecureRound } from "./secure-round.js";
import type { AggregatorSettings } from "./settings.js";
import type { RunPrivacy } from "./run-privacy.js";

/**
 * The open round's training phase: what the upload callbacks (training-uploads.ts), the round's
 * collection and fusion (round-training.ts) and secure aggregation (secure-round-driver.ts) share.
 * It is a plain record so that the Aggregator, the composition root, owns the one that is open.
 *
 * `receiveHolds`: each participant's upload receive buffers, held against staging's memory budget
 * from the round's start until its upload call starts (which then holds its own) or the round
 * closes: parties told to train at once upload at once, and the first upload to arrive must not
 * take the memory budget that the receive buffers of all of them will need.
 */
export interface TrainingPhase {
  round: number; collector: Collector<UpdateMeta>; deadlines: RoundDeadlines; folds: Promise<void>; receiveHolds: Map<string, () => void>;
  /** The round's sum (strategies that fold as updates arrive). */
  sum: WeightedSum | undefined;
  /** Updates kept staged until the round closes (strategies that read them all at once). */
  staged: StagedUpdate[];
  /** What bounds did to updates this round (clipped, refused), for the metrics line. */
  bounds: { clipped: string[]; refused: string[] };
  /** Parties whose local training failed this round, and why (they said so: ReportTrainingFailure). */
  trainingFailures: Map<string, string>;
  /** Set in a secure round (secure aggregation): its key phases, masked sum and unmasking. */
  secure?: SecureRound;
}

/** The Aggregator's parts that every module of a round's training phase reads (each context adds its own). */
export interface RoundParts {
  settings: AggregatorSettings;
  strategy: FusionStrategy;
  log: Logger;
  metrics: AggregatorMetrics | undefined;
  registry: PartyRegistry;
  store: ModelStore;
  /** The run's stop signal (SIGTERM). */
  abort: AbortSignal;
  /** DP-FedAvg's clipping, noise and accounting (hyperparams.global.differential_privacy); absent: off. */
  privacy?: RunPrivacy;
}
