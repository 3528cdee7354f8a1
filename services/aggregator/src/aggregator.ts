import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { HealthImplementation } from "grpc-health-check";
import { ClippedUpdate, type FusionStrategy, type ModelSlices, type StagedBytes, type StagedUpdate, UpdateStaging, WeightedSum, createStrategy, defaultStagingBudget, updateNorm } from "@cohort/fusion";
import { type UpdateEncoding, diffManifests, fingerprint, manifestByteLength } from "@cohort/tensors";
import type { AggregatorMetrics, Logger } from "@cohort/telemetry";
import {
  type EvaluationReport, type Instruction, type TrainingFailure, type UpdateHeader, alreadyExists, failedPrecondition,
  federationService, invalidArgument, permissionDenied,
} from "@cohort/wire";
import { PartyAuthenticator } from "./auth.js";
import { type Collected, Collector } from "./collector.js";
import { type BoundedTransfer, type DropPhase, type PhaseDeadlines, RoundDeadlines, resolveDeadlines } from "./deadlines.js";
import type { IdentityPolicy } from "./identity.js";
import { type AggregatorLimits, resolveLimits, serverOptions } from "./limits.js";
import { ModelStore, slicesOf } from "./model-store.js";
import { PartyRegistry } from "./registry.js";
import { RejectionLimiter } from "./rejection-limiter.js";
import { findResumePoint, restoreStrategyState } from "./resume.js";
import { OutputDirError, type RoundMetrics, type RunSummary, RunOutput } from "./run-output.js";
import { federationHandlers } from "./service.js";
import { StreamQuota } from "./stream-guard.js";
import type { FederationState } from "./state.js";
import { type ReceivedUpdate, receiveBufferBytes } from "./upload-receiver.js";
import { serverCredentials } from "./server-credentials.js";
import { RunPrivacy } from "./run-privacy.js";
import { withTimeout } from "./timeout.js";
import { ConnectionGuard, listenersOf } from "./connection-guard.js";
import type { AggregatorSettings, GlobalEvaluator, InitialModel, ModelExporter } from "./settings.js";
import { type EvaluationContext, collectEvaluations, evaluateOnOwnData } from "./evaluation-phase.js";
import { type UpdateMeta, roundMetrics } from "./round-metrics.js";
import { recoverLostRounds } from "./lost-rounds.js";
import { type MetricBounds, evaluationViolation, examplesViolation, metricViolation } from "./report-bounds.js";
import { NonFiniteModel, finiteSlices } from "./finite-slices.js";
import { SecureRound, type SecureRoundHost, checkSecureAggregation } from "./secure-round.js";
import { MASKED_UPDATE_ENCODING, type MaskedSum } from "@cohort/secagg";

/**
 * `receiveHolds`: each participant's upload receive buffers, held against staging's memory budget
 * from the round's start until its upload call starts (which then holds its own) or the round
 * closes: parties told to train at once upload at once, and the first upload to arrive must not
 * take the memory budget that the receive buffers of all of them will need.
 */
interface TrainingPhase {
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


/**
 * The aggregator: serves the Federation RPCs and runs the rounds. Per round it tells every
 * connected party to train, folds each verified update into a float64 weighted sum as it
 * arrives, closes on all updates or the deadline (with quorum), checkpoints the new global
 * model, has the parties evaluate it, and appends one metrics line.
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
  private readonly server: grpc.Server;
  /** Bounds connections that have not authenticated (deadlines, caps); logs failed TLS handshakes. */
  readonly guard: ConnectionGuard;
  private readonly health = new HealthImplementation({ "": "NOT_SERVING", "cohort.v1.Federation": "NOT_SERVING" });
  private readonly abort = new AbortController();
  private training: TrainingPhase | undefined;
  private evaluation: Collector<EvaluationReport> | undefined;
  private round = 0;
  private resumedFrom: number | undefined;
  /** The aggregator's latest evaluation on its own data (for summary.json). */
  private lastAggregatorEval: Record<string, number> | undefined;
  /** One float64 accumulator for the whole run, reset each round (its pages are faulted in once). */
  private accumulator: WeightedSum | undefined;
  /** Secure aggregation's modular sum of masked updates, reused from round to round. */
  private maskedSum: MaskedSum | undefined;
  /** The latest secure round, from its key exchange on (its RPCs name their round). */
  private keyExchange: SecureRound | undefined;

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
    this.guard = new ConnectionGuard(this.limits, log, extras.metrics);
    this.server = new grpc.Server(serverOptions(this.limits, settings.keepalive));
    this.output = new RunOutput(settings.outputDir);
    this.staging = new UpdateStaging({ dir: join(settings.outputDir, ".staging"), memoryBudgetBytes: settings.stagingMemoryBytes ?? defaultStagingBudget });
    const countConnected = () => this.metrics?.partiesConnected(this.registry.connected().length);
    this.registry.on("connected", countConnected);
    this.registry.on("disconnected", countConnected);
    this.registry.on("disconnected", (party: string) => {
      this.log.warn({ party, round: this.round, phase: "disconnect" }, "party disconnected");
      this.training?.collector.drop(party);
      this.keyExchange?.drop(party);
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
    this.server.addService(federationService(), federationHandlers(this));
    this.health.addToServer(this.server);
    const address = `${this.settings.host.includes(":") ? `[${this.settings.host}]` : this.settings.host}:${this.settings.port}`;
    const credentials = await serverCredentials(this.settings.tls, this.settings.allowInsecureKeyPermissions);
    if (!this.settings.tls) this.log.warn({ phase: "listen" }, "plaintext gRPC (tls_config not enabled): use only on loopback or a trusted network");
    if (this.auth.open) this.log.warn({ phase: "listen", insecure: true }, "--insecure: no TLS and no allow-list, any party name joins: use only on a trusted network");
    const port = await new Promise<number>((resolve, reject) =>
      this.server.bindAsync(address, credentials, (error, bound) => (error ? reject(error) : resolve(bound))));
    this.guard.attach(listenersOf(this.server));
    this.health.setStatus("", "SERVING");
    this.health.setStatus("cohort.v1.Federation", "SERVING");
    this.log.info({ phase: "listen", host: this.settings.host, port, tls: this.settings.tls ? (this.settings.tls.caFile ? "mutual" : "server") : "off", fusion: this.settings.algorithm, parties: this.settings.numParties, rounds: this.settings.rounds }, "aggregator listening");
    return port;
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

  /** Picks up a run that a crash or a stop interrupted: global weights and round from the last good checkpoint. */
  private async resume(): Promise<void> {
    if (await this.output.hasSummary()) {
      throw new OutputDirError(this.settings.outputDir, "holds a finished run (summary.json): choose another output_dir, or move that run away");
    }
    const point = await findResumePoint(this.settings.outputDir, this.log);
    if (!point) return;
    if (this.store.manifest && fingerprint(this.store.manifest) !== fingerprint(point.manifest)) {
      throw new OutputDirError(this.settings.outputDir, `its checkpoints are of another model than the config's: ${diffManifests(this.store.manifest, point.manifest).slice(0, 5).join("; ")}`);
    }
    this.store.setManifest(point.manifest);
    this.store.topology ??= point.topology;
    this.store.putFile(point.round, point);
    this.round = point.round;
    this.resumedFrom = point.round;
    const history = await this.output.readMetrics();
    this.privacy?.restore(history);
    this.log.info({ phase: "resume", round: point.round, metrics_lines: history.length }, `resuming after round ${point.round}`);
    restoreStrategyState(this.strategy, point, this.log);
  }

  onConnected(party: string): void {
    if (this.training?.collector.isOpen && !this.training.collector.isExpected(party)) {
      this.registry.send(party, { kind: "wait", wait: { reason: `round ${this.round} in progress; you join the next one` } });
    } else if (!this.training) {
      this.registry.send(party, { kind: "wait", wait: { reason: `waiting for ${this.settings.numParties} parties` } });
    }
  }

  admitUpload(party: string, header: UpdateHeader): BoundedTransfer | undefined {
    const masked = header.encoding === MASKED_UPDATE_ENCODING;
    if (header.round === 0) {
      if (masked) throw invalidArgument("initial weights cannot be a masked update");
      if (this.store.latest) throw failedPrecondition("the federation already has its initial weights");
      if (party !== this.initialWeightsFrom) throw permissionDenied(`initial weights are expected from ${this.initialWeightsFrom}`);
      return undefined;
    }
    const phase = this.training;
    if (phase?.round === header.round) phase.deadlines.checkNotDropped(party);
    if (!phase || !phase.collector.isOpen || phase.round !== header.round) {
      throw failedPrecondition(`round ${header.round} is not open for updates (current round ${this.round})`);
    }
    if (phase.collector.hasAnswered(party)) throw alreadyExists(`an update for round ${header.round} was already accepted from ${party}`);
    if (!phase.collector.isExpected(party)) throw permissionDenied(`${party} is not a participant of round ${header.round}`);
    if (phase.secure && !masked) throw invalidArgument(`round ${header.round} is a secure round: its updates must be masked (encoding ${MASKED_UPDATE_ENCODING})`);
    if (!phase.secure && masked) throw invalidArgument(`round ${header.round} is not a secure round: a masked update could not be unmasked`);
    phase.secure?.admit(party);
    const declared = this.registry.get(party)?.numTrainExamples ?? 0;
    const violation = examplesViolation(header.numExamples, declared, "training") ?? metricViolation(header.metrics, this.metricBounds);
    if (violation) this.refuse(phase, party, "update", violation);
    return phase.deadlines.upload(party);
  }

  boundDownload(party: string, round: number): BoundedTransfer | undefined {
    const phase = this.training;
    if (!phase?.collector.isOpen || round !== phase.round - 1) return undefined;
    if (!phase.collector.isExpected(party) && phase.deadlines.droppedFor(party) === undefined) return undefined;
    return phase.deadlines.download(party);
  }

  secureRound(round: number): SecureRound | undefined {
    return this.keyExchange?.round === round ? this.keyExchange : undefined;
  }

  onCooldown(party: string): void {
    this.training?.deadlines.drop(party, "cooldown");
    this.evaluation?.drop(party);
  }

  uploadStarted(party: string): void {
    const release = this.training?.receiveHolds.get(party);
    release?.();
    this.training?.receiveHolds.delete(party);
  }

  rejectUpload(party: string, round: number, reason: string): void {
    if (round === 0 || this.training?.round !== round || this.training.deadlines.droppedFor(party) !== undefined) return;
    this.log.warn({ party, round, phase: "upload", reason }, "update dropped: it failed verification");
    this.training.collector.drop(party);
  }

  async acceptUpload(party: string, update: ReceivedUpdate): Promise<void> {
    const { header } = update;
    let staged: StagedBytes = update.staged;
    /** Set once the round keeps the update staged (staged strategies): released when the round closes. */
    let kept = false;
    try {
      if (header.round === 0) {
        this.admitUpload(party, header);
        // Straight from staging to checkpoint 0, which the store then serves (no copy in memory).
        const checkpoint = await this.output.writeCheckpointSlices(0, this.store.manifest!, stagedSlices(staged));
        this.store.putFile(0, checkpoint);
        this.log.info({ party, round: 0, phase: "initial-weights", bytes: checkpoint.size }, "initial weights received");
        return;
      }
      this.admitUpload(party, header);
      const phase = this.training!;
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
      const privatized = this.privacy ? await this.privacy.strategy.transformUpdate(this.store.manifest!, staged, this.previousOf(phase.round)) : undefined;
      if (privatized) staged = privatized.staged;
      if (!phase.collector.submit(party, { numExamples: header.numExamples, metrics: header.metrics, trainSeconds: header.trainSeconds })) {
        throw failedPrecondition(`round ${header.round} closed before the update was complete`);
      }
      if (privatized?.unclipped) this.privacy!.strategy.countUnclipped();
      if (!phase.sum) {
        phase.staged.push({ party, staged, numExamples: header.numExamples });
        kept = true;
        return;
      }
      const weight = this.strategy.weightOf(header);
      // Folds run one pass at a time; verified updates that wait behind a pass are folded together
      // in the next (up to 4 per pass over the sums), then released. The round's result waits for all.
      const fold = phase.sum.foldQueued(staged, weight);
      phase.folds = phase.folds.then(() => fold).catch(() => undefined);
      await fold;
    } finally {
      if (!kept) await staged.release();
    }
  }

  acceptEvaluation(party: string, report: EvaluationReport): void {
    const evaluation = this.evaluation;
    if (!evaluation || evaluation.round !== report.round || !evaluation.isOpen) throw failedPrecondition(`evaluation of round ${report.round} is not open`);
    if (!Number.isSafeInteger(report.numExamples) || report.numExamples < 0) throw invalidArgument("num_examples must be a non-negative integer");
    const violation = evaluationViolation(this.registry.get(party), report, this.metricBounds);
    if (violation) {
      this.log.warn({ party, round: report.round, phase: "evaluate", reason: violation.reason }, `evaluation report of ${party} refused: ${violation.reason}`);
      this.metrics?.reportRefused(violation.code);
      evaluation.drop(party);
      throw invalidArgument(`evaluation report refused: ${violation.reason}`);
    }
    if (!evaluation.submit(party, report)) throw permissionDenied(`${party} was not asked to evaluate round ${report.round}`);
  }

  /**
   * A party's local training of the open round failed (its own error, e.g. a loss that refuses
   * its labels): the round drops it with the reason at once instead of waiting for max_timeout.
   */
  acceptTrainingFailure(party: string, failure: TrainingFailure): void {
    const phase = this.training;
    if (!phase || phase.round !== failure.round || !phase.collector.isOpen) throw failedPrecondition(`round ${failure.round} is not in training (current round ${this.round})`);
    if (!phase.collector.isExpected(party)) throw permissionDenied(`${party} is not a participant of round ${failure.round}`);
    const reason = failure.reason.slice(0, MAX_FAILURE_REASON_CHARS) || "no reason given";
    this.log.warn({ party, round: failure.round, phase: "train", reason }, `${party} dropped from round ${failure.round}: its local training failed: ${reason}`);
    this.metrics?.partyDropped("train");
    phase.trainingFailures.set(party, reason);
    phase.collector.drop(party);
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

    this.metrics?.setPhase("waiting");
    this.log.info({ phase: "wait-parties", expected: s.numParties, quorum, timeout_ms: s.maxTimeoutMs }, "waiting for parties to join");
    const present = await this.registry.waitForConnected(s.numParties, s.maxTimeoutMs, this.abort.signal);
    if (this.abort.signal.aborted) {
      // A stop requested while waiting is not a failed start: no "only 0 of 2 parties joined".
      const reason = "stopped by signal";
      for (const party of this.registry.connected()) this.registry.send(party, { kind: "stop", stop: { reason } });
      this.registry.closeAll();
      this.log.warn({ phase: "stopped", round: completed, joined: present.length, expected: s.numParties }, `stopped by signal while waiting for parties (${present.length} of ${s.numParties} had joined)`);
      const before = (await this.output.readMetrics()).filter((m) => m.eval.accuracy !== undefined).pop();
      return { rounds_completed: completed, final: { accuracy: before?.eval.accuracy ?? null, loss: before?.eval.loss ?? null }, parties: [], wall_seconds: (Date.now() - started) / 1000, stopped_because: reason, fusion: s.algorithm, exported: [] };
    }
    if (present.length < quorum) throw new Error(`only ${present.length} of ${s.numParties} parties joined within ${s.maxTimeoutMs / 1000} s (quorum ${quorum}): ${present.join(", ") || "none"}`);
    await withTimeout(this.store.ready, s.maxTimeoutMs, "no initial weights arrived from the first party");
    if (this.resumedFrom === undefined && this.store.latest!.path === undefined) {
      // An initial model handed over in memory: from here on it is served from checkpoint 0.
      const initial = this.store.latest!;
      const checkpoint = await this.output.writeCheckpointSlices(0, this.store.manifest!, slicesOf(this.store.bytes(initial.round)!));
      this.store.putFile(0, checkpoint);
    }
    if (this.store.topology) await this.output.writeTopology(this.store.topology);
    if (this.resumedFrom !== undefined) {
      await recoverLostRounds({ ...this.evaluationContext(), output: this.output, open: (collector) => { this.evaluation = collector; } }, this.resumedFrom);
    }
    const previous = (await this.output.readMetrics()).filter((m) => m.eval.accuracy !== undefined).pop();
    let lastAccuracy: number | null = previous?.eval.accuracy ?? null;
    let lastLoss: number | null = previous?.eval.loss ?? null;

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
    const failure = failedRound !== undefined ? { failed_round: failedRound } : {};

    for (const party of this.registry.connected()) this.registry.send(party, { kind: "stop", stop: { reason: stoppedBecause } });
    this.registry.closeAll();
    if (interrupted) {
      // No summary: the run is unfinished, and the same config resumes it after the last checkpoint.
      this.log.warn({ phase: "stopped", round: completed, output_dir: s.outputDir, reason: stoppedBecause }, `stopped after round ${completed}; the round in progress was abandoned; restart with the same config to resume`);
      return { rounds_completed: completed, final: { accuracy: lastAccuracy, loss: lastLoss }, parties: [], wall_seconds: (Date.now() - started) / 1000, stopped_because: stoppedBecause, ...failure, fusion: s.algorithm, exported: [] };
    }
    const final = this.store.latest!;
    // The export is the one place the final model is loaded whole (from its checkpoint).
    const exported = this.extras.exportModel
      ? await this.extras.exportModel(join(s.outputDir, "model"), this.store.manifest!, this.store.bytes(final.round)!, this.store.topology)
      : [];
    const summary: RunSummary = {
      rounds_completed: completed,
      final: { accuracy: lastAccuracy, loss: lastLoss },
      // Allow-list order; under --insecure (no allow-list) the order of first join.
      parties: this.auth.open ? this.registry.joined() : [...new Set(this.settings.parties.map((p) => p.name).filter((n) => this.registry.get(n)))],
      wall_seconds: (Date.now() - started) / 1000,
      stopped_because: stoppedBecause,
      ...failure,
      fusion: s.algorithm,
      exported,
      ...(this.lastAggregatorEval ? { aggregator_eval: this.lastAggregatorEval } : {}),
      ...(this.privacy ? { privacy: this.privacy.summary() } : {}),
    };
    await this.output.writeSummary(summary);
    this.metrics?.setPhase("done");
    this.log.info({ phase: "done", rounds: completed, ...(summary.privacy ? { epsilon: summary.privacy.epsilon, delta: summary.privacy.delta } : {}), accuracy: summary.final.accuracy, loss: summary.final.loss, wall_seconds: summary.wall_seconds, output_dir: s.outputDir }, "federation finished");
    return summary;
  }

  /** Runs one round to its metrics line, or says why it failed (the run stops then) and whether a restart can resume it. */
  private async runRound(round: number, quorum: number): Promise<RoundMetrics | { failed: string; resumable: boolean }> {
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
      const keyed = await this.exchangeKeys(round, participants);
      if ("failed" in keyed) return { failed: keyed.failed, resumable: false };
      ({ secure, participants } = keyed);
    }
    const collector = new Collector<UpdateMeta>(round, participants, s.maxTimeoutMs);
    const deadlines: RoundDeadlines = new RoundDeadlines(round, participants, this.deadlines, s.maxTimeoutMs, (party, dropped): boolean => this.dropFromRound(collector, deadlines, party, dropped));
    const receiveHolds = new Map(participants.map((party) => [party, this.staging.hold(receiveBufferBytes(this.chunkSize))]));
    const sum = this.strategy.mode === "stream" ? this.roundSum() : undefined;
    const phase: TrainingPhase = { round, collector, deadlines, sum, staged: [], bounds: { clipped: [], refused: [] }, folds: Promise.resolve(), receiveHolds, trainingFailures: new Map(), secure };
    this.training = phase;
    try {
      return await this.trainAndFuse(phase, participants, quorum, { roundStart, bytesIn, bytesOut });
    } finally {
      // Updates a staged strategy kept live until the round's model is written or the round fails.
      await Promise.all(phase.staged.splice(0).map((u) => u.staged.release()));
    }
  }

  /** The round from its train instructions to its metrics line (runRound set it up and releases what it kept). */
  private async trainAndFuse(
    phase: TrainingPhase, participants: string[], quorum: number, start: { roundStart: number; bytesIn: number; bytesOut: number },
  ): Promise<RoundMetrics | { failed: string; resumable: boolean }> {
    const s = this.settings;
    const { round } = phase;
    const { roundStart, bytesIn, bytesOut } = start;
    if (phase.secure) {
      // Their train instruction came with the key exchange: the shares dealt to them start their training.
      for (const party of phase.secure.startUploads(this.secureHost())) phase.collector.drop(party);
    } else {
      const instruction = this.trainInstruction(round, participants.length);
      for (const party of participants) if (!this.registry.send(party, instruction)) phase.collector.drop(party);
    }
    this.metrics?.roundStarted(round);
    this.log.info({ round, phase: "train", parties: participants, ...(phase.secure ? { secure_aggregation: true } : {}) }, "round started");
    const onAbort = () => phase.collector.close("cancelled");
    this.abort.signal.addEventListener("abort", onAbort);
    const updates = await phase.collector.closed;
    for (const release of phase.receiveHolds.values()) release();
    phase.receiveHolds.clear();
    phase.deadlines.close();
    this.abort.signal.removeEventListener("abort", onAbort);
    await phase.folds;
    const trainMs = Date.now() - roundStart;
    if (updates.missing.length) this.log.warn({ round, phase: "train", missing: updates.missing, reason: updates.reason }, "round closed without some parties");
    const report: Record<string, unknown> = {};
    if (phase.secure && updates.results.size >= quorum) {
      // The masked sum becomes the round's float64 sum here (or the round fails, saying why).
      const failed = await this.unmaskSecureRound(phase, report);
      if (failed) return { failed, resumable: false };
    }
    const staged = phase.staged.filter((u) => updates.results.has(u.party)).sort((a, b) => (a.party < b.party ? -1 : a.party > b.party ? 1 : 0));
    if (updates.results.size < quorum || (phase.sum ? phase.sum.count === 0 : staged.length < quorum)) {
      this.log.error({ round, phase: "train", updates: updates.results.size, quorum }, "quorum not reached");
      // Failed local training is the likely cause the user must fix: say it in the run's reason too.
      const failures = [...phase.trainingFailures].map(([party, reason]) => `${party}'s local training failed: ${reason}`);
      return { failed: `fewer than ${quorum} updates${failures.length ? ` (${failures.join("; ")})` : ""}`, resumable: false };
    }
    const damage = phase.sum?.damaged;
    if (damage) {
      // A fold failed part way (a staged file that could not be read back): the sums hold part
      // of an update that counts nowhere. No checkpoint is written from them.
      this.log.error({ round, phase: "fuse", err: damage }, "a fold failed part way: the round's sums are damaged and the round is discarded");
      return { failed: `a fold failed part way (${damage.message})`, resumable: true };
    }

    this.metrics?.setPhase("fuse");
    // The mean is written slice by slice into the checkpoint (hashed on the way), which the store
    // then serves downloads from: the packed global model is never in memory as a whole.
    // ms.fuse: mean + hash + write; ms.checkpoint: fsync, rename, .json and state.json.
    // The line but its evaluation goes into the checkpoint: a restart writes it if this process cannot.
    const pending = roundMetrics(round, updates, NO_REPORTS, { train: trainMs, fuse: 0, checkpoint: 0, eval: 0, round: 0 }, { in: this.bytesIn - bytesIn, out: this.bytesOut - bytesOut });
    const manifest = this.store.manifest!;
    const previous = this.previousOf(round);
    // Spent as the noised sum is released (before the checkpoint: a failed write overcounts, never undercounts).
    // A secure round folds its unmasked mean as one update: its survivors are the updates received.
    const privacy = this.privacy?.record(phase.secure ? updates.results.size : phase.sum?.count ?? staged.length);
    if (privacy) pending.privacy = privacy;
    let checkpoint;
    try {
      let slices = this.strategy.aggregate({ round, manifest, previous, sum: phase.sum, updates: staged, report });
      if (privacy) slices = this.privacy!.withNextClipNorm(slices, privacy);
      checkpoint = await this.output.writeCheckpointSlices(round, manifest, finiteSlices(manifest, slices), pending, () => this.strategy.saveState?.());
    } catch (error) {
      if (!(error instanceof NonFiniteModel)) throw error;
      // A server optimizer's step can leave float32's range: that model is never checkpointed.
      this.log.error({ round, phase: "fuse", fusion: this.strategy.name, reason: error.message }, "the fused model is not finite: the round is discarded");
      return { failed: error.message, resumable: false };
    }
    this.metrics?.setPhase("checkpoint");
    this.store.putFile(round, checkpoint);
    const fuseMs = checkpoint.writeMs;
    const checkpointMs = checkpoint.syncMs;

    this.metrics?.setPhase("evaluate");
    const evaluate = round % (s.evaluateEvery ?? 1) === 0 || round === s.rounds;
    // The aggregator's own evaluation runs while the parties evaluate theirs.
    const ownEvaluation = evaluate && this.extras.evaluateGlobal ? evaluateOnOwnData(this.extras.evaluateGlobal, this.store, this.log, round) : Promise.resolve(undefined);
    const { reports, ms: evalMs } = await collectEvaluations(this.evaluationContext(),
      round, evaluate ? this.registry.connected() : [], (collector) => { this.evaluation = collector; },
    );
    const aggregatorEval = await ownEvaluation;
    const metrics = roundMetrics(round, updates, reports,
      { train: trainMs, fuse: fuseMs, checkpoint: checkpointMs, eval: evalMs, round: Date.now() - roundStart },
      { in: this.bytesIn - bytesIn, out: this.bytesOut - bytesOut });
    if (aggregatorEval) {
      metrics.aggregator_eval = aggregatorEval;
      this.lastAggregatorEval = aggregatorEval;
    }
    if (phase.bounds.clipped.length) report.clipped = phase.bounds.clipped;
    if (phase.bounds.refused.length) report.refused = phase.bounds.refused;
    if (Object.keys(report).length) metrics.fusion = report;
    if (privacy) {
      metrics.privacy = privacy;
      this.log.info({ round, phase: "privacy", epsilon: privacy.epsilon, delta: privacy.delta, noise_multiplier: privacy.noise_multiplier, clip_norm: privacy.clip_norm, next_clip_norm: privacy.next_clip_norm }, `round ${round}: epsilon ${privacy.epsilon.toFixed(3)} at delta ${privacy.delta}`);
    }
    await this.output.appendMetrics(metrics);
    this.metrics?.roundCompleted(metrics);
    this.log.info({ round, phase: "round-done", parties: metrics.parties.length, examples: metrics.examples, train: metrics.train, eval: metrics.eval, ...(aggregatorEval ? { aggregator_eval: aggregatorEval } : {}), ms: metrics.ms.round, bytes_in: metrics.bytes_in, bytes_out: metrics.bytes_out, fusion: metrics.fusion }, `round ${round}/${s.rounds} done`);
    return metrics;
  }

  private evaluationContext(): EvaluationContext {
    return { registry: this.registry, log: this.log, metrics: this.metrics, abort: this.abort.signal, deadlineMs: this.deadlines.evaluateMs };
  }

  /**
   * Refuses `party`'s update or report for a bound it broke: logged with the party, counted, the
   * party no longer waited for in the round; throws the refusal the party receives.
   */
  private refuse(phase: TrainingPhase, party: string, what: "update", reason: string): never {
    this.log.warn({ party, round: phase.round, phase: "upload", reason }, `${what} of ${party} refused: ${reason}`);
    phase.bounds.refused.push(party);
    phase.collector.drop(party);
    throw invalidArgument(`${what} refused: ${reason}`);
  }

  /** The round's global model (round - 1) by byte range. */
  private previousOf(round: number): ModelSlices {
    return { read: (offset, length) => this.store.read(round - 1, offset, length) };
  }

  /** The round's Poisson sample of `connected` (DP's sampling_rate), redrawn while it is empty; logged. */
  private sampleParties(round: number, connected: string[]): string[] {
    let sampled = this.privacy!.sample(connected);
    while (sampled.length === 0) sampled = this.privacy!.sample(connected);
    if (sampled.length < connected.length) this.log.info({ round, phase: "sample", sampled: sampled.length, connected: connected.length, sampling_rate: this.settings.privacy!.samplingRate }, `round ${round}: ${sampled.length} of ${connected.length} parties sampled`);
    return sampled;
  }

  /** Applies max_update_norm: the update as is, clipped to the bound, or refused (refuse throws). */
  private async boundNorm(phase: TrainingPhase, party: string, staged: StagedBytes): Promise<StagedBytes> {
    const bound = this.settings.maxUpdateNorm;
    if (bound === undefined) return staged;
    const manifest = this.store.manifest!;
    const previous = this.previousOf(phase.round);
    const norm = await updateNorm(manifest, staged, previous);
    if (norm <= bound) return staged;
    if (this.settings.updateNormAction === "refuse") {
      this.refuse(phase, party, "update", `its norm ${norm.toPrecision(4)} exceeds max_update_norm ${bound}`);
    }
    this.log.warn({ party, round: phase.round, phase: "upload", norm, max_update_norm: bound }, `update of ${party} clipped to max_update_norm`);
    this.metrics?.updateClipped();
    phase.bounds.clipped.push(party);
    return new ClippedUpdate(manifest, staged, previous, bound / norm);
  }

  /** The round's train instruction; a secure round's carries its parameters (the party advertises keys first). */
  private trainInstruction(round: number, participants: number, secure?: SecureRound): Instruction {
    const s = this.settings;
    const { proximalMu, privacy: share } = this.strategy.configureTrain(round, participants);
    return {
      kind: "train",
      train: {
        round,
        hyperparams: {
          epochs: s.local.epochs, batchSize: s.local.batchSize, stepsPerEpoch: s.local.stepsPerEpoch ?? 0, validationSplit: s.local.validationSplit, learningRate: s.local.lr ?? 0, proximalMu,
          ...(share ? { dpClipNorm: share.clipNorm, dpNoiseStddev: share.noiseStddev } : {}),
        },
        ...(secure ? { secureAggregation: secure.trainParams } : {}),
      },
    };
  }

  /**
   * A secure round's key exchange, before its training: the train instruction with the round's
   * parameters, then the advertise and share phases. Returns the parties that dealt shares, or
   * why the round fails.
   */
  private async exchangeKeys(round: number, participants: string[]): Promise<{ secure: SecureRound; participants: string[] } | { failed: string }> {
    const declared = participants.reduce((total, party) => total + (this.registry.get(party)?.numTrainExamples ?? 0), 0);
    // Strategies that weigh parties equally (IterAvg, DP-FedAvg) have each party pre-scale by 1 / n.
    const equalWeights = this.strategy.weightOf({ numExamples: 1 }) === this.strategy.weightOf({ numExamples: 2 });
    const secure = SecureRound.start(this.settings.secureAggregation!, round, participants, declared, this.store.manifest!, this.maskedSum, equalWeights);
    let outcome: { failed: string } | { sharers: string[] };
    if ("failed" in secure) {
      outcome = secure;
    } else {
      this.maskedSum = secure.sum;
      this.keyExchange = secure;
      outcome = await secure.exchangeKeys(this.secureHost(), this.trainInstruction(round, participants.length, secure));
    }
    if ("failed" in outcome) {
      this.log.error({ round, phase: "secagg", reason: outcome.failed }, `round ${round} failed: ${outcome.failed}`);
      return outcome;
    }
    return { secure: secure as SecureRound, participants: outcome.sharers };
  }

  /** What a secure round needs from the aggregator: instructions, the key phases' deadline, the stop signal. */
  private secureHost(): SecureRoundHost {
    return { log: this.log, deadlineMs: this.settings.maxTimeoutMs, abort: this.abort.signal, send: (party, instruction) => this.registry.send(party, instruction) };
  }

  /**
   * Unmasks a secure round's sum into the round's float64 sum (as the mean's one update), so
   * that the strategy (FedAvg, a server optimizer) fuses it as it fuses a plain round. Returns
   * why the round fails, if it does.
   */
  private async unmaskSecureRound(phase: TrainingPhase, report: Record<string, unknown>): Promise<string | undefined> {
    const secure = phase.secure!;
    const outcome = await secure.unmask(this.secureHost());
    report.secure_aggregation = {
      survivors: outcome.survivors.length, dropped: outcome.dropped, key_bytes_in: secure.keyBytes.in, key_bytes_out: secure.keyBytes.out,
      ...(outcome.warnings.length ? { warnings: outcome.warnings } : {}),
    };
    for (const warning of outcome.warnings) this.log.warn({ round: phase.round, phase: "secagg-unmask", reason: warning }, warning);
    if (outcome.failed) {
      this.log.error({ round: phase.round, phase: "secagg-unmask", reason: outcome.failed }, `round ${phase.round} failed: ${outcome.failed}`);
      return outcome.failed;
    }
    const model = secure.unmaskedModel(this.store.manifest!, this.previousOf(phase.round));
    const sum = this.roundSum();
    phase.sum = sum;
    await sum.fold(model, 1);
    this.log.info({ round: phase.round, phase: "secagg-unmask", survivors: outcome.survivors.length, dropped: outcome.dropped }, "secure round: sum unmasked");
    return undefined;
  }

  /** `party` missed a phase deadline (or is cooling down): the round stops waiting for it. False when it no longer waited. */
  private dropFromRound(collector: Collector<UpdateMeta>, deadlines: RoundDeadlines, party: string, phase: DropPhase): boolean {
    if (!collector.isOpen || !collector.isExpected(party)) return false;
    this.log.warn({ party, round: collector.round, phase, reason: deadlines.describe(phase) }, `${party} dropped from round ${collector.round}: ${deadlines.describe(phase)}`);
    this.metrics?.partyDropped(phase);
    collector.drop(party);
    return true;
  }

  /** The run's accumulator, emptied for a new round. */
  private roundSum(): WeightedSum {
    const manifest = this.store.manifest!;
    if (this.accumulator?.manifest === manifest) {
      this.accumulator.reset();
    } else {
      // Memory-staged updates live in the accumulator's WebAssembly memory (an arena the size of
      // the staging budget), so the fold reads them in place. Updates staged in an earlier
      // accumulator's arena stay valid (their views keep its memory) until released.
      const sum = new WeightedSum(manifest, { arenaBytes: this.staging.memoryBudget(manifestByteLength(manifest)) });
      this.accumulator = sum;
      this.staging.allocator = (bytes) => sum.allocateStaging(bytes);
    }
    return this.accumulator;
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
    this.guard.stop();
    this.health.setStatus("", "NOT_SERVING");
    await new Promise<void>((resolve) => this.server.tryShutdown(() => resolve()));
    this.store.close();
  }

  /** Stops at once: cancels every call in flight (tests, fatal errors). */
  forceClose(): void {
    this.guard.stop();
    this.server.forceShutdown();
    this.store.close();
  }
}

/** A party's training failure reason is logged, so it is cut to this length. */
const MAX_FAILURE_REASON_CHARS = 1000;

const NO_REPORTS: Collected<EvaluationReport> = { results: new Map(), missing: [], late: [], reason: "complete" };

/** A staged update's bytes in order, one bounded slice at a time (each consumed before the next is read). */
async function* stagedSlices(staged: StagedBytes, sliceBytes = 4 * 1024 * 1024): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < staged.size; at += sliceBytes) yield await staged.read(at, Math.min(sliceBytes, staged.size - at));
}
