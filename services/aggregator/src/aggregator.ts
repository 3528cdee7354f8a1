import { join } from "node:path";
import { type FusionStrategy, type StagedBytes, UpdateStaging, createStrategy, defaultStagingBudget } from "@cohort/fusion";
import type { UpdateEncoding } from "@cohort/tensors";
import type { AggregatorMetrics, Logger } from "@cohort/telemetry";
import {
  type EvaluationReport, type TrainingFailure, type UpdateHeader, failedPrecondition,
  invalidArgument, permissionDenied,
} from "@cohort/wire";
import { PartyAuthenticator } from "./auth.js";
import type { Collector } from "./collector.js";
import { type BoundedTransfer, type PhaseDeadlines, resolveDeadlines } from "./deadlines.js";
import type { IdentityPolicy } from "./identity.js";
import { type AggregatorLimits, resolveLimits } from "./limits.js";
import { ModelStore } from "./model-store.js";
import { PartyRegistry } from "./registry.js";
import { RejectionLimiter } from "./rejection-limiter.js";
import { resumeRun } from "./resume.js";
import { type RoundMetrics, type RunSummary, RunOutput } from "./run-output.js";
import { StreamQuota } from "./stream-guard.js";
import type { FederationState } from "./state.js";
import type { ReceivedUpdate } from "./upload-receiver.js";
import type { ConnectionGuard } from "./connection-guard.js";
import { FederationServer } from "./federation-server.js";
import { endRun } from "./run-ending.js";
import { startRun } from "./run-start.js";
import type { AggregatorSettings, GlobalEvaluator, InitialModel, ModelExporter } from "./settings.js";
import { type EvaluationContext, acceptEvaluation } from "./evaluation-phase.js";
import { evaluateRound } from "./round-evaluation.js";
import { roundMetrics } from "./round-metrics.js";
import type { MetricBounds } from "./report-bounds.js";
import { type SecureRound, checkSecureAggregation } from "./secure-round.js";
import { MASKED_UPDATE_ENCODING } from "@cohort/secagg";
import { RoundAccumulator } from "./round-accumulator.js";
import { RunPrivacy } from "./run-privacy.js";
import { SecureRoundDriver } from "./secure-round-driver.js";
import type { RoundParts, TrainingPhase } from "./training-phase.js";
import { TrainingUploads } from "./training-uploads.js";
import { type FailedRound, NO_REPORTS, RoundTraining } from "./round-training.js";

/**
 * The aggregator: serves the Federation RPCs and runs the rounds. Per round it tells every
 * connected party to train, folds each verified update into a float64 weighted sum as it
 * arrives, closes on all updates or the deadline (with quorum), checkpoints the new global
 * model, has the parties evaluate it, and appends one metrics line.
 *
 * It is the composition root: it owns the server, the run loop and the open phases, and hands
 * the work to one module per job: a round's training and fusion (round-training.ts), the
 * upload callbacks of the open round (training-uploads.ts), secure aggregation's key exchange
 * and unmasking (secure-round-driver.ts), the evaluation phase (evaluation-phase.ts).
 */
export class Aggregator implements FederationState {
  readonly auth: PartyAuthenticator;
  readonly registry = new PartyRegistry();
  readonly store = new ModelStore();
  readonly staging: UpdateStaging;
  readonly output: RunOutput;
  readonly chunkSize: number;
  readonly updateEncoding: UpdateEncoding;
  readonly limits: AggregatorLimits;
  readonly quota: StreamQuota;
  readonly identity: IdentityPolicy;
  readonly rejections: RejectionLimiter;
  readonly deadlines: PhaseDeadlines;
  /** The fusion strategy: what each round sends the parties and how it folds their updates. */
  readonly strategy: FusionStrategy;
  /** DP-FedAvg's clipping, noise and accounting (hyperparams.global.differential_privacy); absent: off. */
  readonly privacy: RunPrivacy | undefined;
  initialWeightsFrom: string | undefined;
  bytesIn = 0;
  bytesOut = 0;
  /** The gRPC server (Federation and health services) and its connection guard. */
  private readonly server: FederationServer;
  /** Bounds connections that have not authenticated (deadlines, caps); logs failed TLS handshakes. */
  readonly guard: ConnectionGuard;
  private readonly abort = new AbortController();
  /** The open round's training phase (the upload callbacks act on it). */
  private training: TrainingPhase | undefined;
  private evaluation: Collector<EvaluationReport> | undefined;
  private round = 0;
  private resumedFrom: number | undefined;
  /** The aggregator's latest evaluation on its own data (for summary.json). */
  private lastAggregatorEval: Record<string, number> | undefined;
  /** Secure aggregation's key exchange and unmasking (secure rounds only). */
  private readonly secure: SecureRoundDriver;
  /** The open round's upload and download callbacks: admission, bounds, folding. */
  private readonly uploads: TrainingUploads;
  /** A round's training phase: instructions, collection, fusion into its checkpoint. */
  private readonly rounds: RoundTraining;

  constructor(readonly settings: AggregatorSettings, readonly log: Logger, private readonly extras: { initialModel?: InitialModel; exportModel?: ModelExporter; metrics?: AggregatorMetrics; evaluateGlobal?: GlobalEvaluator } = {}) {
    this.auth = new PartyAuthenticator(settings.parties, settings.insecure === true);
    const fusion = createStrategy({ ...settings.fusionParams, name: settings.algorithm });
    this.privacy = settings.privacy ? new RunPrivacy(fusion, settings.privacy, log) : undefined;
    this.strategy = this.privacy?.strategy ?? fusion;
    if (settings.secureAggregation) checkSecureAggregation(settings, this.strategy);
    this.chunkSize = settings.chunkSize;
    this.updateEncoding = settings.updateEncoding ?? "float32";
    this.limits = resolveLimits(settings.limits);
    this.quota = new StreamQuota(this.limits);
    this.rejections = new RejectionLimiter(this.limits);
    this.deadlines = resolveDeadlines(settings.maxTimeoutMs, settings.deadlines);
    this.identity = { mutualTls: settings.tls?.caFile !== undefined, mode: settings.tls?.identity ?? "token" };
    if (this.identity.mode === "certificate" && !this.identity.mutualTls) throw new Error("tls identity: certificate needs mutual TLS (a ca to verify client certificates)");
    this.server = new FederationServer(this.limits, settings, log, extras.metrics);
    this.guard = this.server.guard;
    this.output = new RunOutput(settings.outputDir);
    this.staging = new UpdateStaging({ dir: join(settings.outputDir, ".staging"), memoryBudgetBytes: settings.stagingMemoryBytes ?? defaultStagingBudget });
    const parts: RoundParts = { settings, strategy: this.strategy, log, metrics: extras.metrics, registry: this.registry, store: this.store, abort: this.abort.signal, privacy: this.privacy };
    const accumulator = new RoundAccumulator(this.store, this.staging);
    this.secure = new SecureRoundDriver({ ...parts, accumulator });
    this.uploads = new TrainingUploads({ ...parts, metricBounds: this.metricBounds });
    this.rounds = new RoundTraining({ ...parts, staging: this.staging, output: this.output, deadlines: this.deadlines, chunkSize: this.chunkSize, accumulator, secure: this.secure });
    const countConnected = () => this.metrics?.partiesConnected(this.registry.connected().length);
    this.registry.on("connected", countConnected);
    this.registry.on("disconnected", countConnected);
    this.registry.on("disconnected", (party: string) => {
      this.log.warn({ party, round: this.round, phase: "disconnect" }, "party disconnected");
      this.training?.collector.drop(party);
      this.secure.drop(party);
      this.evaluation?.drop(party);
    });
    if (extras.initialModel) {
      this.store.setManifest(extras.initialModel.manifest);
      this.store.topology = extras.initialModel.topology;
      this.store.put(0, extras.initialModel.bytes);
    }
  }

  /** Binds the port (0 picks a free one) and starts serving; returns the bound port. */
  async start(): Promise<number> {
    await this.output.checkWritable();
    await this.resume();
    return this.server.listen(this, this.settings, this.auth);
  }

  /** Prometheus metrics, when the deployment exports them (extras.metrics). */
  get metrics(): AggregatorMetrics | undefined {
    return this.extras.metrics;
  }

  /** What the reports' metrics must respect (report-bounds.ts). */
  private get metricBounds(): MetricBounds {
    return { negativeLoss: this.settings.negativeLoss === "accept" };
  }

  currentRound(): number {
    return this.round;
  }

  /** Picks up a run that a crash or a stop interrupted: global weights and round from the last good checkpoint (resume.ts). */
  private async resume(): Promise<void> {
    const resumed = await resumeRun(this.output, this.settings.outputDir, this.store, this.strategy, this.log, this.privacy);
    if (resumed === undefined) return;
    this.round = resumed;
    this.resumedFrom = resumed;
  }

  onConnected(party: string): void {
    if (this.training?.collector.isOpen && !this.training.collector.isExpected(party)) {
      this.registry.send(party, { kind: "wait", wait: { reason: `round ${this.round} in progress; you join the next one` } });
    } else if (!this.training) {
      this.registry.send(party, { kind: "wait", wait: { reason: `waiting for ${this.settings.numParties} parties` } });
    }
  }

  admitUpload(party: string, header: UpdateHeader): BoundedTransfer | undefined {
    if (header.round === 0) {
      if (header.encoding === MASKED_UPDATE_ENCODING) throw invalidArgument("initial weights cannot be a masked update");
      if (this.store.latest) throw failedPrecondition("the federation already has its initial weights");
      if (party !== this.initialWeightsFrom) throw permissionDenied(`initial weights are expected from ${this.initialWeightsFrom}`);
      return undefined;
    }
    return this.uploads.admitUpload(this.training, this.round, party, header);
  }

  boundDownload(party: string, round: number): BoundedTransfer | undefined {
    return this.uploads.boundDownload(this.training, party, round);
  }

  secureRound(round: number): SecureRound | undefined {
    return this.secure.secureRound(round);
  }

  onCooldown(party: string): void {
    this.training?.deadlines.drop(party, "cooldown");
    this.evaluation?.drop(party);
  }

  uploadStarted(party: string): void {
    this.uploads.uploadStarted(this.training, party);
  }

  rejectUpload(party: string, round: number, reason: string): void {
    this.uploads.rejectUpload(this.training, party, round, reason);
  }

  async acceptUpload(party: string, update: ReceivedUpdate): Promise<void> {
    const { header, staged } = update;
    if (header.round !== 0) {
      let phase: TrainingPhase;
      try {
        this.admitUpload(party, header);
        phase = this.training!;
      } catch (error) {
        await staged.release();
        throw error;
      }
      // From here the training phase releases the update (or keeps it staged for the round).
      return this.uploads.acceptUpload(phase, party, header, staged);
    }
    try {
      this.admitUpload(party, header);
      // Straight from staging to checkpoint 0, which the store then serves (no copy in memory).
      const checkpoint = await this.output.writeCheckpointSlices(0, this.store.manifest!, stagedSlices(staged));
      this.store.putFile(0, checkpoint);
      this.log.info({ party, round: 0, phase: "initial-weights", bytes: checkpoint.size }, "initial weights received");
    } finally {
      await staged.release();
    }
  }

  acceptEvaluation(party: string, report: EvaluationReport): void {
    acceptEvaluation(this.evaluationContext(), this.evaluation, party, report, this.metricBounds);
  }

  /**
   * A party's local training of the open round failed (its own error, e.g. a loss that refuses
   * its labels): the round drops it with the reason at once instead of waiting for max_timeout.
   */
  acceptTrainingFailure(party: string, failure: TrainingFailure): void {
    this.uploads.acceptTrainingFailure(this.training, this.round, party, failure);
  }

  /** Runs the federation to the end and writes the summary and the exported model. */
  async run(): Promise<RunSummary> {
    const started = Date.now();
    const s = this.settings;
    // Poisson-sampled rounds (DP's sampling_rate) have no fixed size: any sampled update makes the round.
    const quorum = (s.privacy?.samplingRate ?? 1) < 1 ? 1 : Math.max(1, Math.ceil(s.percQuorum * s.numParties));
    let stoppedBecause = "all rounds completed";
    /** A round failed in a way a restart can repair: no summary, so the same config resumes the run. */
    let unfinished = false;
    let failedRound: number | undefined;
    let completed = this.resumedFrom ?? 0;

    const start = await startRun({
      ...this.evaluationContext(), settings: s, store: this.store, output: this.output, open: (collector) => { this.evaluation = collector; },
    }, this.resumedFrom, quorum, started);
    if ("stopped" in start) return start.stopped;
    let { lastAccuracy, lastLoss } = start;

    for (let round = completed + 1; round <= s.rounds && !this.abort.signal.aborted; round++) {
      const overBudget = this.privacy?.budgetStop(round);
      if (overBudget) {
        stoppedBecause = overBudget;
        this.log.warn({ phase: "privacy", round, epsilon: this.privacy!.ledger.epsilon, target_epsilon: s.privacy!.targetEpsilon }, `stopping before round ${round}: ${overBudget}`);
        break;
      }
      const metrics = await this.runRound(round, quorum);
      if ("failed" in metrics) {
        stoppedBecause = `round ${round} failed: ${metrics.failed}`;
        failedRound = round;
        unfinished = metrics.resumable;
        break;
      }
      completed = round;
      if (metrics.eval.accuracy !== undefined) lastAccuracy = metrics.eval.accuracy;
      if (metrics.eval.loss !== undefined) lastLoss = metrics.eval.loss;
      // At least quorum parties' evaluations: no single party's report ends the run.
      if (s.terminationAccuracy !== undefined && (metrics.eval_parties ?? 0) >= quorum && (metrics.eval.accuracy ?? 0) >= s.terminationAccuracy) {
        stoppedBecause = `termination accuracy ${s.terminationAccuracy} reached`;
        break;
      }
    }
    const stoppedBySignal = this.abort.signal.aborted && completed < s.rounds && !stoppedBecause.startsWith("termination");
    if (stoppedBySignal) {
      stoppedBecause = "stopped by signal";
      failedRound = undefined; // the round in progress was abandoned on request, not failed
    }
    const interrupted = stoppedBySignal || unfinished;
    return endRun({ settings: s, log: this.log, metrics: this.metrics, registry: this.registry, store: this.store, output: this.output, auth: this.auth, exportModel: this.extras.exportModel },
      { started, completed, lastAccuracy, lastLoss, stoppedBecause, failedRound, interrupted, aggregatorEval: this.lastAggregatorEval, ...(this.privacy ? { privacy: this.privacy.summary() } : {}) });
  }

  /** Runs one round to its metrics line, or says why it failed (the run stops then) and whether a restart can resume it. */
  private async runRound(round: number, quorum: number): Promise<RoundMetrics | FailedRound> {
    const s = this.settings;
    const roundStart = Date.now();
    const bytesIn = this.bytesIn;
    const bytesOut = this.bytesOut;
    this.round = round;
    let participants = this.registry.connected();
    if (participants.length < quorum) participants = await this.registry.waitForConnected(quorum, s.maxTimeoutMs, this.abort.signal);
    if (participants.length < quorum) {
      this.log.error({ round, phase: "train", connected: participants.length, quorum }, "not enough parties connected");
      return { failed: `fewer than ${quorum} updates`, resumable: false };
    }
    if (this.privacy) participants = this.sampleParties(round, participants);
    let secure: SecureRound | undefined;
    if (s.secureAggregation) {
      // Keys first (each phase bounded by max_timeout): the round then trains the parties that dealt shares.
      const keyed = await this.secure.exchangeKeys(round, participants);
      if ("failed" in keyed) return { failed: keyed.failed, resumable: false };
      ({ secure, participants } = keyed);
    }
    const phase = this.rounds.open(round, participants, secure);
    this.training = phase;
    const bytes = () => ({ in: this.bytesIn - bytesIn, out: this.bytesOut - bytesOut });
    try {
      const fused = await this.rounds.trainAndFuse(phase, participants, quorum, roundStart,
        (updates, trainMs) => roundMetrics(round, updates, NO_REPORTS, { train: trainMs, fuse: 0, checkpoint: 0, eval: 0, round: 0 }, bytes()));
      if ("failed" in fused) return fused;
      return await evaluateRound({
        ...this.evaluationContext(), settings: s, store: this.store, output: this.output, evaluateGlobal: this.extras.evaluateGlobal,
        open: (collector) => { this.evaluation = collector; }, ownEvaluated: (evaluation) => { this.lastAggregatorEval = evaluation; },
      }, phase, fused, roundStart, bytes);
    } finally {
      // Updates a staged strategy kept live until the round's model is written or the round fails.
      await this.rounds.release(phase);
    }
  }

  /** The round's Poisson sample of `connected` (DP's sampling_rate), redrawn while it is empty; logged. */
  private sampleParties(round: number, connected: string[]): string[] {
    let sampled = this.privacy!.sample(connected);
    while (sampled.length === 0) sampled = this.privacy!.sample(connected);
    if (sampled.length < connected.length) this.log.info({ round, phase: "sample", sampled: sampled.length, connected: connected.length, sampling_rate: this.settings.privacy!.samplingRate }, `round ${round}: ${sampled.length} of ${connected.length} parties sampled`);
    return sampled;
  }

  private evaluationContext(): EvaluationContext {
    return { registry: this.registry, log: this.log, metrics: this.metrics, abort: this.abort.signal, deadlineMs: this.deadlines.evaluateMs };
  }

  /** Ends the run after the current phase (SIGTERM): open collections close, parties are told to stop. */
  requestStop(): void {
    this.abort.abort();
  }

  /** A call on the connection of `peer` (grpc-js' getPeer) authenticated as a party. */
  connectionAuthenticated(peer: string): void {
    this.guard.authenticated(peer);
  }

  async close(): Promise<void> {
    await this.server.close();
    this.store.close();
  }

  /** Stops at once: cancels every call in flight (tests, fatal errors). */
  forceClose(): void {
    this.server.forceClose();
    this.store.close();
  }
}

/** A staged update's bytes in order, one bounded slice at a time (each consumed before the next is read). */
async function* stagedSlices(staged: StagedBytes, sliceBytes = 4 * 1024 * 1024): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < staged.size; at += sliceBytes) yield await staged.read(at, Math.min(sliceBytes, staged.size - at));
}
