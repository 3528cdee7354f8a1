import type { RoundPrivacy, UpdateStaging } from "@cohort/fusion";
import type { EvaluationReport } from "@cohort/wire";
import { type Collected, Collector } from "./collector.js";
import { type DropPhase, type PhaseDeadlines, RoundDeadlines } from "./deadlines.js";
import { NonFiniteModel, finiteSlices } from "./finite-slices.js";
import type { RoundAccumulator } from "./round-accumulator.js";
import type { UpdateMeta } from "./round-metrics.js";
import type { PendingRoundMetrics, RunOutput } from "./run-output.js";
import type { SecureRound } from "./secure-round.js";
import type { SecureRoundDriver } from "./secure-round-driver.js";
import { trainInstruction } from "./train-instruction.js";
import type { RoundParts, TrainingPhase } from "./training-phase.js";
import { receiveBufferBytes } from "./upload-receiver.js";

/** What a round's training phase needs from the aggregator. */
export interface RoundTrainingContext extends RoundParts {
  staging: UpdateStaging;
  output: RunOutput;
  deadlines: PhaseDeadlines;
  chunkSize: number;
  accumulator: RoundAccumulator;
  secure: SecureRoundDriver;
}

/** A round whose training failed: why, and whether a restart can resume it. */
export interface FailedRound { failed: string; resumable: boolean }

/** A round trained and fused: its new global model is checkpointed and in the store. */
export interface FusedRound {
  updates: Collected<UpdateMeta>;
  /** The fusion's report for the metrics line (the strategy's, secure aggregation's). */
  report: Record<string, unknown>;
  trainMs: number;
  fuseMs: number;
  checkpointMs: number;
  /** Differential privacy: what the round spent (epsilon so far, its noise and clip norm). */
  privacy?: RoundPrivacy;
}

/**
 * The training phase of a round: opens it (collector, deadlines, receive holds, the sum), sends
 * the train instructions, waits for the updates (the upload callbacks of training-uploads.ts fold
 * them meanwhile), checks quorum and the sums, and fuses through the strategy seam into the
 * round's checkpoint. It exists so that the Aggregator's run loop sees a round as "train and
 * fuse, then evaluate"; the evaluation and the metrics line stay with the run loop.
 */
export class RoundTraining {
  constructor(private readonly context: RoundTrainingContext) {}

  /** The training phase of `round` for `participants` (a secure round's are those that dealt shares). */
  open(round: number, participants: string[], secure: SecureRound | undefined): TrainingPhase {
    const { settings: s, staging, chunkSize, strategy, accumulator } = this.context;
    const collector = new Collector<UpdateMeta>(round, participants, s.maxTimeoutMs);
    const deadlines: RoundDeadlines = new RoundDeadlines(round, participants, this.context.deadlines, s.maxTimeoutMs, (party, dropped): boolean => this.dropFromRound(collector, deadlines, party, dropped));
    const receiveHolds = new Map(participants.map((party) => [party, staging.hold(receiveBufferBytes(chunkSize))]));
    const sum = strategy.mode === "stream" ? accumulator.roundSum() : undefined;
    return { round, collector, deadlines, sum, staged: [], bounds: { clipped: [], refused: [] }, folds: Promise.resolve(), receiveHolds, trainingFailures: new Map(), secure };
  }

  /** Releases the updates a staged strategy kept live until the round's model was written or the round failed. */
  async release(phase: TrainingPhase): Promise<void> {
    await Promise.all(phase.staged.splice(0).map((u) => u.staged.release()));
  }

  /**
   * The round from its train instructions to its checkpoint. `pending` is the round's metrics
   * line but its evaluation, written into the checkpoint (a restart writes it if this process cannot).
   */
  async trainAndFuse(
    phase: TrainingPhase, participants: string[], quorum: number, roundStart: number,
    pending: (updates: Collected<UpdateMeta>, trainMs: number) => PendingRoundMetrics,
  ): Promise<FusedRound | FailedRound> {
    const { registry, log, metrics, abort, store, strategy, output, settings } = this.context;
    const { round } = phase;
    if (phase.secure) {
      // Their train instruction came with the key exchange: the shares dealt to them start their training.
      for (const party of phase.secure.startUploads(this.context.secure.secureHost())) phase.collector.drop(party);
    } else {
      const instruction = trainInstruction(settings, strategy, round, participants.length);
      for (const party of participants) if (!registry.send(party, instruction)) phase.collector.drop(party);
    }
    metrics?.roundStarted(round);
    log.info({ round, phase: "train", parties: participants, ...(phase.secure ? { secure_aggregation: true } : {}) }, "round started");
    const onAbort = () => phase.collector.close("cancelled");
    abort.addEventListener("abort", onAbort);
    const updates = await phase.collector.closed;
    for (const release of phase.receiveHolds.values()) release();
    phase.receiveHolds.clear();
    phase.deadlines.close();
    abort.removeEventListener("abort", onAbort);
    await phase.folds;
    const trainMs = Date.now() - roundStart;
    if (updates.missing.length) log.warn({ round, phase: "train", missing: updates.missing, reason: updates.reason }, "round closed without some parties");
    const report: Record<string, unknown> = {};
    if (phase.secure && updates.results.size >= quorum) {
      // The masked sum becomes the round's float64 sum here (or the round fails, saying why).
      const failed = await this.context.secure.unmaskSecureRound(phase, report);
      if (failed) return { failed, resumable: false };
    }
    const staged = phase.staged.filter((u) => updates.results.has(u.party)).sort((a, b) => (a.party < b.party ? -1 : a.party > b.party ? 1 : 0));
    if (updates.results.size < quorum || (phase.sum ? phase.sum.count === 0 : staged.length < quorum)) {
      log.error({ round, phase: "train", updates: updates.results.size, quorum }, "quorum not reached");
      // Failed local training is the likely cause the user must fix: say it in the run's reason too.
      const failures = [...phase.trainingFailures].map(([party, reason]) => `${party}'s local training failed: ${reason}`);
      return { failed: `fewer than ${quorum} updates${failures.length ? ` (${failures.join("; ")})` : ""}`, resumable: false };
    }
    const damage = phase.sum?.damaged;
    if (damage) {
      // A fold failed part way (a staged file that could not be read back): the sums hold part
      // of an update that counts nowhere. No checkpoint is written from them.
      log.error({ round, phase: "fuse", err: damage }, "a fold failed part way: the round's sums are damaged and the round is discarded");
      return { failed: `a fold failed part way (${damage.message})`, resumable: true };
    }

    metrics?.setPhase("fuse");
    // The mean is written slice by slice into the checkpoint (hashed on the way), which the store
    // then serves downloads from: the packed global model is never in memory as a whole.
    // ms.fuse: mean + hash + write; ms.checkpoint: fsync, rename, .json and state.json.
    // The line but its evaluation goes into the checkpoint: a restart writes it if this process cannot.
    const pendingLine = pending(updates, trainMs);
    const manifest = store.manifest!;
    const previous = store.previousOf(round);
    // Spent as the noised sum is released (before the checkpoint: a failed write overcounts, never
    // undercounts). A secure round folds its unmasked mean as one update: its survivors are the updates received.
    const privacy = this.context.privacy?.record(phase.secure ? updates.results.size : phase.sum?.count ?? staged.length);
    if (privacy) pendingLine.privacy = privacy;
    let checkpoint;
    try {
      let slices = strategy.aggregate({ round, manifest, previous, sum: phase.sum, updates: staged, report });
      if (privacy) slices = this.context.privacy!.withNextClipNorm(slices, privacy);
      checkpoint = await output.writeCheckpointSlices(round, manifest, finiteSlices(manifest, slices), pendingLine, () => strategy.saveState?.());
    } catch (error) {
      if (!(error instanceof NonFiniteModel)) throw error;
      // A server optimizer's step can leave float32's range: that model is never checkpointed.
      log.error({ round, phase: "fuse", fusion: strategy.name, reason: error.message }, "the fused model is not finite: the round is discarded");
      return { failed: error.message, resumable: false };
    }
    metrics?.setPhase("checkpoint");
    store.putFile(round, checkpoint);
    return { updates, report, trainMs, fuseMs: checkpoint.writeMs, checkpointMs: checkpoint.syncMs, ...(privacy ? { privacy } : {}) };
  }

  /** `party` missed a phase deadline (or is cooling down): the round stops waiting for it. False when it no longer waited. */
  private dropFromRound(collector: Collector<UpdateMeta>, deadlines: RoundDeadlines, party: string, phase: DropPhase): boolean {
    if (!collector.isOpen || !collector.isExpected(party)) return false;
    const { log, metrics } = this.context;
    log.warn({ party, round: collector.round, phase, reason: deadlines.describe(phase) }, `${party} dropped from round ${collector.round}: ${deadlines.describe(phase)}`);
    metrics?.partyDropped(phase);
    collector.drop(party);
    return true;
  }
}

/** No evaluation reports: the pending metrics line written into a checkpoint before its evaluation. */
export const NO_REPORTS: Collected<EvaluationReport> = { results: new Map(), missing: [], late: [], reason: "complete" };
