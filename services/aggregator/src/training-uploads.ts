import { ClippedUpdate, type StagedBytes, updateNorm } from "@cohort/fusion";
import { type TrainingFailure, type UpdateHeader, alreadyExists, failedPrecondition, invalidArgument, permissionDenied } from "@cohort/wire";
import { MASKED_UPDATE_ENCODING } from "@cohort/secagg";
import type { BoundedTransfer } from "./deadlines.js";
import { type MetricBounds, examplesViolation, metricViolation } from "./report-bounds.js";
import type { RoundParts, TrainingPhase } from "./training-phase.js";

/** What the training phase's upload callbacks need from the aggregator. */
export interface TrainingUploadsContext extends RoundParts {
  /** What the reports' metrics must respect (report-bounds.ts). */
  metricBounds: MetricBounds;
}

/** A party's training failure reason is logged, so it is cut to this length. */
const MAX_FAILURE_REASON_CHARS = 1000;

/**
 * The open round's side of the gRPC handlers' upload and download calls (service.ts through the
 * Aggregator's FederationState methods): admits an update's header, applies the update bounds
 * (examples, metrics, max_update_norm), folds or stages what it accepts, and drops parties that
 * failed verification or their local training. It exists so that what a round accepts is decided
 * in one place, apart from the run loop; the Aggregator hands it the open TrainingPhase.
 */
export class TrainingUploads {
  constructor(private readonly context: TrainingUploadsContext) {}

  /**
   * Vets the header of an update for round `header.round` (not 0: the initial weights are the
   * Aggregator's); throws the refusal. Returns the upload's deadline.
   */
  admitUpload(phase: TrainingPhase | undefined, currentRound: number, party: string, header: UpdateHeader): BoundedTransfer | undefined {
    const masked = header.encoding === MASKED_UPDATE_ENCODING;
    if (phase?.round === header.round) phase.deadlines.checkNotDropped(party);
    if (!phase || !phase.collector.isOpen || phase.round !== header.round) {
      throw failedPrecondition(`round ${header.round} is not open for updates (current round ${currentRound})`);
    }
    if (phase.collector.hasAnswered(party)) throw alreadyExists(`an update for round ${header.round} was already accepted from ${party}`);
    if (!phase.collector.isExpected(party)) throw permissionDenied(`${party} is not a participant of round ${header.round}`);
    if (phase.secure && !masked) throw invalidArgument(`round ${header.round} is a secure round: its updates must be masked (encoding ${MASKED_UPDATE_ENCODING})`);
    if (!phase.secure && masked) throw invalidArgument(`round ${header.round} is not a secure round: a masked update could not be unmasked`);
    phase.secure?.admit(party);
    const declared = this.context.registry.get(party)?.numTrainExamples ?? 0;
    const violation = examplesViolation(header.numExamples, declared, "training") ?? metricViolation(header.metrics, this.context.metricBounds);
    if (violation) this.refuse(phase, party, "update", violation);
    return phase.deadlines.upload(party);
  }

  /** A download of `round`'s model: bounded by the download deadline when it is the open round's base and `party` takes part. */
  boundDownload(phase: TrainingPhase | undefined, party: string, round: number): BoundedTransfer | undefined {
    if (!phase?.collector.isOpen || round !== phase.round - 1) return undefined;
    if (!phase.collector.isExpected(party) && phase.deadlines.droppedFor(party) === undefined) return undefined;
    return phase.deadlines.download(party);
  }

  /** `party`'s upload call holds its own receive buffers now: the round releases the ones it held for it. */
  uploadStarted(phase: TrainingPhase | undefined, party: string): void {
    const release = phase?.receiveHolds.get(party);
    release?.();
    phase?.receiveHolds.delete(party);
  }

  /** An admitted update failed verification: the round no longer waits for `party`. */
  rejectUpload(phase: TrainingPhase | undefined, party: string, round: number, reason: string): void {
    if (round === 0 || phase?.round !== round || phase.deadlines.droppedFor(party) !== undefined) return;
    this.context.log.warn({ party, round, phase: "upload", reason }, "update dropped: it failed verification");
    phase.collector.drop(party);
  }

  /**
   * Takes a verified update that admitUpload admitted into `phase`: a secure round adds it to
   * the masked sum; otherwise bounded by max_update_norm, then folded (stream strategies) or kept
   * staged until the round closes. Releases the update's staging unless the round kept it.
   */
  async acceptUpload(phase: TrainingPhase, party: string, header: UpdateHeader, received: StagedBytes): Promise<void> {
    let staged = received;
    /** Set once the round keeps the update staged (staged strategies): released when the round closes. */
    let kept = false;
    try {
      if (phase.secure) {
        if (!phase.collector.submit(party, { numExamples: header.numExamples, metrics: header.metrics, trainSeconds: header.trainSeconds })) {
          throw failedPrecondition(`round ${header.round} closed before the update was complete`);
        }
        // Masked updates are added to the modular sum as they arrive, then released (finally).
        const fold = phase.secure.fold(party, staged, header.numExamples);
        phase.folds = phase.folds.then(() => fold).catch(() => undefined);
        await fold;
        return;
      }
      staged = await this.boundNorm(phase, party, staged);
      // Central DP: the update clipped to the round's C (float64) before it is folded.
      const { privacy, store } = this.context;
      const privatized = privacy ? await privacy.strategy.transformUpdate(store.manifest!, staged, store.previousOf(phase.round)) : undefined;
      if (privatized) staged = privatized.staged;
      if (!phase.collector.submit(party, { numExamples: header.numExamples, metrics: header.metrics, trainSeconds: header.trainSeconds })) {
        throw failedPrecondition(`round ${header.round} closed before the update was complete`);
      }
      // Adaptive clipping counts an update only once the round has accepted it.
      if (privatized?.unclipped) privacy!.strategy.countUnclipped();
      if (!phase.sum) {
        phase.staged.push({ party, staged, numExamples: header.numExamples });
        kept = true;
        return;
      }
      const weight = this.context.strategy.weightOf(header);
      // Folds run one pass at a time; verified updates that wait behind a pass are folded together
      // in the next (up to 4 per pass over the sums), then released. The round's result waits for all.
      const fold = phase.sum.foldQueued(staged, weight);
      phase.folds = phase.folds.then(() => fold).catch(() => undefined);
      await fold;
    } finally {
      if (!kept) await staged.release();
    }
  }

  /**
   * A party's local training of the open round failed (its own error, e.g. a loss that refuses
   * its labels): the round drops it with the reason at once instead of waiting for max_timeout.
   */
  acceptTrainingFailure(phase: TrainingPhase | undefined, currentRound: number, party: string, failure: TrainingFailure): void {
    if (!phase || phase.round !== failure.round || !phase.collector.isOpen) throw failedPrecondition(`round ${failure.round} is not in training (current round ${currentRound})`);
    if (!phase.collector.isExpected(party)) throw permissionDenied(`${party} is not a participant of round ${failure.round}`);
    const reason = failure.reason.slice(0, MAX_FAILURE_REASON_CHARS) || "no reason given";
    this.context.log.warn({ party, round: failure.round, phase: "train", reason }, `${party} dropped from round ${failure.round}: its local training failed: ${reason}`);
    this.context.metrics?.partyDropped("train");
    phase.trainingFailures.set(party, reason);
    phase.collector.drop(party);
  }

  /**
   * Refuses `party`'s update or report for a bound it broke: logged with the party, counted, the
   * party no longer waited for in the round; throws the refusal the party receives.
   */
  private refuse(phase: TrainingPhase, party: string, what: "update", reason: string): never {
    this.context.log.warn({ party, round: phase.round, phase: "upload", reason }, `${what} of ${party} refused: ${reason}`);
    phase.bounds.refused.push(party);
    phase.collector.drop(party);
    throw invalidArgument(`${what} refused: ${reason}`);
  }

  /** Applies max_update_norm: the update as is, clipped to the bound, or refused (refuse throws). */
  private async boundNorm(phase: TrainingPhase, party: string, staged: StagedBytes): Promise<StagedBytes> {
    const { settings, store, log, metrics } = this.context;
    const bound = settings.maxUpdateNorm;
    if (bound === undefined) return staged;
    const manifest = store.manifest!;
    const previous = store.previousOf(phase.round);
    const norm = await updateNorm(manifest, staged, previous);
    if (norm <= bound) return staged;
    if (settings.updateNormAction === "refuse") {
      this.refuse(phase, party, "update", `its norm ${norm.toPrecision(4)} exceeds max_update_norm ${bound}`);
    }
    log.warn({ party, round: phase.round, phase: "upload", norm, max_update_norm: bound }, `update of ${party} clipped to max_update_norm`);
    metrics?.updateClipped();
    phase.bounds.clipped.push(party);
    return new ClippedUpdate(manifest, staged, previous, bound / norm);
  }
}
