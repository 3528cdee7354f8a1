import type { UpdateStaging } from "@cohort/fusion";
import type { UpdateEncoding } from "@cohort/tensors";
import type { AggregatorMetrics, Logger } from "@cohort/telemetry";
import type { TrainingFailure, EvaluationReport, UpdateHeader } from "@cohort/wire";
import type { PartyAuthenticator } from "./auth.js";
import type { BoundedTransfer } from "./deadlines.js";
import type { IdentityPolicy } from "./identity.js";
import type { AggregatorLimits } from "./limits.js";
import type { ModelStore } from "./model-store.js";
import type { PartyRegistry } from "./registry.js";
import type { RejectionLimiter } from "./rejection-limiter.js";
import type { StreamQuota } from "./stream-guard.js";
import type { ReceivedUpdate } from "./upload-receiver.js";
import type { SecureRound } from "./secure-round.js";

/** What the gRPC handlers need from the aggregator: its parts, and the decisions the run makes. */
export interface FederationState {
  readonly log: Logger;
  readonly auth: PartyAuthenticator;
  readonly registry: PartyRegistry;
  readonly store: ModelStore;
  readonly staging: UpdateStaging;
  readonly chunkSize: number;
  /** How parties send updates: float32, or float16/int8 differences from the round's base model. */
  readonly updateEncoding: UpdateEncoding;
  readonly limits: AggregatorLimits;
  /** Open streams per party (limits.maxStreamsPerParty, maxUploadsPerParty). */
  readonly quota: StreamQuota;
  /** Refused calls per peer; a peer with too many is refused outright for a while. */
  readonly rejections: RejectionLimiter;
  /** Token and/or client certificate: how a call's party is established. */
  readonly identity: IdentityPolicy;
  /** Prometheus metrics, when the deployment exports them. */
  readonly metrics?: AggregatorMetrics;
  /** Party asked to upload the initial weights (when the aggregator had no model). */
  initialWeightsFrom: string | undefined;
  bytesIn: number;
  bytesOut: number;
  currentRound(): number;
  onConnected(party: string): void;
  /**
   * Vets an upload's header before its bytes are staged; throws a FederationError to refuse it.
   * Returns the upload's deadline when it is an update of the open round.
   */
  admitUpload(party: string, header: UpdateHeader): BoundedTransfer | undefined;
  /** A download of `round`'s global model: bounded by the download deadline when it is the base of the open round and `party` takes part in it. Throws when `party` was dropped from that round. */
  boundDownload(party: string, round: number): BoundedTransfer | undefined;
  /** `party` is cooling down (too many refused calls): the round in progress stops waiting for it. */
  onCooldown(party: string): void;
  /** An admitted upload failed verification: the party is no longer waited for in that round. */
  rejectUpload(party: string, round: number, reason: string): void;
  /**
   * An upload call of `party` started (it holds its own receive buffers against staging's
   * budget now): the open round stops holding them on its behalf. Optional (tests' fakes).
   */
  uploadStarted?(party: string): void;
  /** Takes a complete, verified update (folds it, or stores initial weights). */
  acceptUpload(party: string, update: ReceivedUpdate): Promise<void>;
  acceptEvaluation(party: string, report: EvaluationReport): void;
  /** `party`'s local training of a round failed: the round stops waiting for it. Optional (tests' fakes). */
  acceptTrainingFailure?(party: string, failure: TrainingFailure): void;

  /** The secure round `round`, while it runs (secure aggregation). Optional (tests' fakes). */
  secureRound?(round: number): SecureRound | undefined;

  /** A call authenticated on the connection of `peer` (grpc-js' getPeer): its connection is no longer bounded as unauthenticated. Optional (tests' fakes). */
  connectionAuthenticated?(peer: string): void;
}
