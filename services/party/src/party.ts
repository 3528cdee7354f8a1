import { readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import * as grpc from "@grpc/grpc-js";
import { type UpdateEncoding, type WeightSet, encodeWeights, fingerprint, isUpdateEncoding } from "@cohort/tensors";
import type { Logger, PartyMetrics } from "@cohort/telemetry";
import {
  AUTHORIZATION_KEY, type Instruction, type JoinResponse, type LocalHyperparamsMessage, PARTY_KEY, SESSION_KEY, TRANSFER_CHANNEL_OPTIONS, federationClientConstructor, manifestToMessage,
  readPrivateKey,
} from "@cohort/wire";
import { type BackoffSettings, DEFAULT_BACKOFF, backoffDelay } from "./backoff.js";
import type { LocalLearner, TrainResult, TrainSettings } from "./learner.js";
import { downloadModel, uploadUpdate } from "./transfer.js";
import { privateUpdate } from "./private-update.js";
import { type TlsDial, diagnoseTls } from "./tls-diagnosis.js";
import { type MaskedUpload, SecureAggregationSteps, type UnaryCall } from "./secure-aggregation.js";
import { type Dealer, ProtocolError } from "@cohort/secagg";

/** A secure round's masking of the trained weights against the round's base (SecureAggregationSteps.maskedInput). */
type MaskUpdate = (trained: WeightSet, base: WeightSet, numExamples: number) => MaskedUpload;

export interface PartySettings {
  name: string;
  token: string;
  host: string;
  port: number;
  reconnect?: BackoffSettings;
  /** Local overrides of the aggregator's hyperparameters. */
  localOverrides?: Partial<TrainSettings>;
  /** TLS to the aggregator: a CA to trust (else the system's), and a client certificate for mutual TLS. */
  tls?: { caFile?: string; certFile?: string; keyFile?: string };
  /** Load a TLS key that other users may read (`--allow-insecure-key-permissions`); refused otherwise. */
  allowInsecureKeyPermissions?: boolean;
  /** HTTP/2 keepalive towards the aggregator (DEFAULT_KEEPALIVE). */
  keepalive?: Partial<KeepaliveSettings>;
}

/**
 * The party pings the aggregator after `timeMs` without one, also while it only waits for
 * instructions, and drops the connection (then rejoins) when no answer comes within
 * `timeoutMs`: a link that dies silently is noticed within `timeMs + timeoutMs`. `timeMs` must
 * be at least the aggregator's `min_ping_interval_ms`.
 */
export interface KeepaliveSettings {
  timeMs: number;
  timeoutMs: number;
}

export const DEFAULT_KEEPALIVE: Readonly<KeepaliveSettings> = Object.freeze({ timeMs: 30_000, timeoutMs: 10_000 });

type Client = grpc.Client & Record<string, (...args: unknown[]) => unknown>;

/** Statuses after which rejoining cannot help: the party is misconfigured or not allowed. */
const FATAL = new Set([grpc.status.UNAUTHENTICATED, grpc.status.PERMISSION_DENIED, grpc.status.INVALID_ARGUMENT, grpc.status.FAILED_PRECONDITION]);

/** The TLS files' bytes (the key refused when others may read it), or undefined for plaintext. */
function tlsFiles(settings: PartySettings): TlsDial | undefined {
  const tls = settings.tls;
  if (!tls) return undefined;
  const read = (file?: string) => (file ? readFileSync(file) : null);
  const key = tls.keyFile ? readPrivateKey(tls.keyFile, settings.allowInsecureKeyPermissions) : null;
  return { host: settings.host, port: settings.port, ca: read(tls.caFile), cert: read(tls.certFile), key };
}

function channelCredentials(dial: TlsDial | undefined): grpc.ChannelCredentials {
  // The server's certificate is checked against the host name dialled (its SAN must name it).
  return dial ? grpc.credentials.createSsl(dial.ca, dial.key, dial.cert) : grpc.credentials.createInsecure();
}

/** Statuses with which the aggregator refuses one update or evaluation report, not the party (DEADLINE_EXCEEDED: the upload missed its deadline). */
const UPDATE_REFUSALS = new Set([grpc.status.INVALID_ARGUMENT, grpc.status.FAILED_PRECONDITION, grpc.status.ALREADY_EXISTS, grpc.status.PERMISSION_DENIED, grpc.status.DEADLINE_EXCEEDED]);
/** Statuses with which the aggregator refuses the round's base model to a party it dropped from the round (a missed deadline). */
const DROPPED_FROM_ROUND = new Set([grpc.status.FAILED_PRECONDITION, grpc.status.DEADLINE_EXCEEDED]);

export class PartyRefusedError extends Error {
  constructor(readonly code: grpc.status, message: string) {
    super(message);
    this.name = "PartyRefusedError";
  }
}

/**
 * A party's side of the federation: dials out to the aggregator, joins, follows instructions
 * (train, evaluate, wait, stop) and rejoins with backoff when the link drops. Weights move on
 * their own RPCs, in chunks.
 */
export class Party {
  private readonly client: Client;
  private readonly backoff: BackoffSettings;
  private readonly tls: TlsDial | undefined;
  private session: JoinResponse | undefined;
  private cachedGlobal: { round: number; weights: WeightSet } | undefined;
  private stopped = false;
  private stream: grpc.ClientReadableStream<Instruction> | undefined;
  /** Secure aggregation's key phases and masking (rounds that ask for it). */
  private readonly secure: SecureAggregationSteps;

  /** `extras.metrics`: Prometheus metrics, when the deployment exports them; `extras.dealer`: a test's dishonest Shamir dealer. */
  constructor(readonly settings: PartySettings, readonly learner: LocalLearner, readonly log: Logger, private readonly extras: { metrics?: PartyMetrics; dealer?: Dealer } = {}) {
    this.tls = tlsFiles(settings);
    const Client = federationClientConstructor();
    const keepalive = { ...DEFAULT_KEEPALIVE, ...settings.keepalive };
    this.client = new Client(`${settings.host}:${settings.port}`, channelCredentials(this.tls), {
      "grpc.keepalive_time_ms": keepalive.timeMs, "grpc.keepalive_timeout_ms": keepalive.timeoutMs, "grpc.keepalive_permit_without_calls": 1,
      // Wide receive window (downloads); an own connection even when several parties share a
      // process (tests, bench): the aggregator caps the streams of one connection.
      ...TRANSFER_CHANNEL_OPTIONS, "grpc.use_local_subchannel_pool": 1,
    }) as Client;
    this.backoff = settings.reconnect ?? DEFAULT_BACKOFF;
    const call: UnaryCall = (method, request) => new Promise<void>((resolve, reject) =>
      this.client[method](request, this.metadata(), { deadline: Date.now() + 30_000 }, (error: grpc.ServiceError | null) => (error ? reject(error) : resolve())));
    this.secure = new SecureAggregationSteps(settings.name, call, log, extras.dealer);
  }

  /** Runs until the aggregator says stop; throws PartyRefusedError when the aggregator refuses this party. */
  async run(): Promise<string> {
    let attempt = 0;
    while (!this.stopped) {
      try {
        await this.join();
        attempt = 0;
        const reason = await this.follow();
        if (reason !== undefined) return reason;
      } catch (error) {
        const code = (error as grpc.ServiceError).code;
        if (FATAL.has(code)) throw new PartyRefusedError(code, (error as grpc.ServiceError).details || (error as Error).message);
        if (this.stopped) break;
        // Retrying cannot help when a certificate was refused at the handshake (either side).
        const refusal = code === grpc.status.UNAVAILABLE && this.tls ? await diagnoseTls(this.tls) : undefined;
        if (refusal) {
          this.log.error({ phase: "tls", reason: refusal.reason, fix: refusal.fix }, "TLS handshake with the aggregator refused: stopping");
          throw refusal;
        }
        attempt++;
        if (this.backoff.maxAttempts > 0 && attempt > this.backoff.maxAttempts) throw error;
        const delay = backoffDelay(attempt, this.backoff);
        this.extras.metrics?.setJoined(false);
        this.log.warn({ phase: "reconnect", attempt, delay_ms: Math.round(delay), reason: (error as grpc.ServiceError).details || (error as Error).message }, "aggregator unreachable, retrying");
        await sleep(delay);
      }
    }
    return "stopped";
  }

  /** Leaves the federation: closes the instruction stream and the channel. */
  close(): void {
    this.stopped = true;
    this.learner.stop?.();
    this.stream?.cancel();
    this.extras.metrics?.setJoined(false);
    this.client.close();
  }

  private metadata(): grpc.Metadata {
    const metadata = new grpc.Metadata();
    metadata.set(AUTHORIZATION_KEY, `Bearer ${this.settings.token}`);
    metadata.set(PARTY_KEY, this.settings.name);
    if (this.session) metadata.set(SESSION_KEY, this.session.sessionId);
    return metadata;
  }

  private async join(): Promise<void> {
    this.session = undefined;
    this.extras.metrics?.setJoined(false);
    const manifest = this.learner.manifest;
    const request = {
      partyName: this.settings.name, manifestFingerprint: fingerprint(manifest), manifest: manifestToMessage(manifest),
      numTrainExamples: this.learner.numTrainExamples, numTestExamples: this.learner.numTestExamples ?? 0, backend: this.learner.backend, modelTopology: this.learner.topology ?? "",
    };
    this.session = await new Promise<JoinResponse>((resolve, reject) =>
      this.client.Join(request, this.metadata(), { deadline: Date.now() + 30_000 }, (error: grpc.ServiceError | null, response: JoinResponse) => (error ? reject(error) : resolve(response))));
    this.extras.metrics?.setJoined(true);
    this.log.info({ phase: "join", round: this.session.currentRound, initial_weights: this.session.sendInitialWeights, update_encoding: sessionEncoding(this.session) }, "joined the federation");
    if (this.session.sendInitialWeights) {
      const { bytes } = await uploadUpdate(this.client, this.metadata(), this.learner.getWeights(), this.session.chunkSize, { round: 0, numExamples: this.learner.numTrainExamples, metrics: {}, trainSeconds: 0 });
      this.extras.metrics?.uploaded(bytes, 0);
      this.log.info({ phase: "initial-weights", bytes }, "sent initial weights");
    }
  }

  /** Follows the instruction stream; returns the stop reason, or undefined if the stream broke. */
  /**
   * Follows the instruction stream; returns the stop reason, or throws (UNAVAILABLE) if the stream
   * broke. The stream is read while an instruction runs, so a stop sent during local training is
   * honoured even if the aggregator is gone by the time training ends.
   */
  private async follow(): Promise<string | undefined> {
    const stream = this.client.Instructions({ sessionId: this.session!.sessionId }, this.metadata()) as grpc.ClientReadableStream<Instruction>;
    this.stream = stream;
    const inbox = new InstructionInbox(stream);
    try {
      for (;;) {
        if (this.stopped) return "stopped";
        if (inbox.stopReason !== undefined) {
          this.log.info({ phase: "stop", reason: inbox.stopReason }, "aggregator ended the federation");
          stream.cancel();
          return inbox.stopReason;
        }
        const instruction = await inbox.next();
        try {
          switch (instruction.kind) {
            case "train":
              if (instruction.train.secureAggregation) await this.secureStep(() => this.secure.begin(instruction.train.round, instruction.train.hyperparams, instruction.train.secureAggregation!));
              else await this.train(instruction.train.round, instruction.train.hyperparams);
              break;
            case "shareKeys": await this.secureStep(() => this.secure.shareKeys(instruction)); break;
            case "maskedInput": {
              const step = await this.secureStep(async () => this.secure.maskedInput(instruction));
              if (step) await this.train(instruction.maskedInput.round, step.hyperparams, step.mask);
              break;
            }
            case "unmask": await this.secureStep(() => this.secure.unmask(instruction)); break;
            case "evaluate": await this.evaluate(instruction.evaluate.round); break;
            case "wait": this.log.info({ phase: "wait", reason: instruction.wait.reason }, "waiting"); break;
            case "stop": break;
          }
        } catch (error) {
          if (inbox.stopReason === undefined) throw error;
        }
      }
    } catch (error) {
      if (this.stopped) return "stopped";
      throw error;
    }
  }

  /**
   * Runs a step of a secure round. A step the protocol or the aggregator refuses (a roster
   * without this party's keys, a phase that closed) costs this round only: logged, the round
   * abandoned, the party stays. A broken link still propagates (rejoin).
   */
  private async secureStep<T>(step: () => Promise<T>): Promise<T | undefined> {
    try {
      return await step();
    } catch (error) {
      const code = (error as grpc.ServiceError).code;
      if (!(error instanceof ProtocolError) && !UPDATE_REFUSALS.has(code) && code !== undefined) throw error;
      const reason = (error as grpc.ServiceError).details || (error as Error).message;
      this.log.error({ phase: "secagg", reason, ...(code !== undefined ? { code: grpc.status[code] } : {}) }, `secure round abandoned: ${reason}`);
      return undefined;
    }
  }

  private async globalWeights(round: number): Promise<WeightSet> {
    if (this.cachedGlobal?.round === round) return this.cachedGlobal.weights;
    const started = Date.now();
    this.log.debug({ round, phase: "download" }, "downloading the global model");
    const { weights, bytes } = await downloadModel(this.client, this.metadata(), this.learner.manifest, round, this.session!.chunkSize);
    this.cachedGlobal = { round, weights };
    this.extras.metrics?.downloaded(bytes);
    this.log.debug({ round, phase: "download", bytes, ms: Date.now() - started }, "global model downloaded");
    return weights;
  }

  /** `mask`: a secure round's masking of the trained update (it is uploaded masked, never as is). */
  private async train(round: number, hyperparams: LocalHyperparamsMessage, mask?: MaskUpdate): Promise<void> {
    let weights: WeightSet;
    try {
      weights = await this.globalWeights(round - 1);
    } catch (error) {
      // Dropped from the round (its download deadline passed): this round only; the party stays.
      const code = (error as grpc.ServiceError).code;
      if (!DROPPED_FROM_ROUND.has(code)) throw error;
      this.log.warn({ round, phase: "download", code: grpc.status[code], reason: (error as grpc.ServiceError).details }, "dropped from the round by the aggregator");
      return;
    }
    this.learner.setWeights(weights);
    const settings: TrainSettings = {
      epochs: hyperparams.epochs, batchSize: hyperparams.batchSize,
      stepsPerEpoch: hyperparams.stepsPerEpoch || undefined, validationSplit: hyperparams.validationSplit,
      lr: hyperparams.learningRate || undefined, proximalMu: hyperparams.proximalMu || undefined, ...this.settings.localOverrides,
    };
    this.log.info({ round, phase: "train", epochs: settings.epochs, batch_size: settings.batchSize }, "local training started");
    let result: Awaited<ReturnType<LocalLearner["train"]>>;
    try {
      result = await this.learner.train(settings, (epoch, metrics) => this.log.info({ round, phase: "train", epoch, ...metrics }, "epoch done"));
    } catch (error) {
      if (this.stopped) return;
      // The party's own failure (its loss, its data, its model), not the link's: rejoining would
      // not help. Said to the aggregator, which drops this party from the round; it stays for the next.
      const reason = (error as Error).message || String(error);
      this.log.error({ round, phase: "train", reason, err: error }, `local training failed: ${reason}`);
      await this.reportTrainingFailure(round, reason);
      return;
    }
    if (this.stopped) return; // left during training: nothing is uploaded
    this.extras.metrics?.trained(result.seconds, result.metrics, result.samplesPerSecond);
    const started = Date.now();
    let bytes: number;
    this.log.info({ round, phase: "upload", examples: result.numExamples }, "upload started");
    try {
      // The federation may want float32 tensors as float16/int8 differences from the round's base model.
      // Distributed DP clips and noises the update first, so secure aggregation masks an already noised update.
      const update = privateUpdate(this.learner.getWeights(), weights, hyperparams, (fields) => this.log.info({ round, phase: "privacy", ...fields }, "update clipped and noised (distributed DP)"));
      const masked = mask?.(update, weights, result.numExamples);
      const encoding = masked?.encoding ?? sessionEncoding(this.session!);
      const upload = masked?.weights ?? encodeWeights(update, weights, sessionEncoding(this.session!));
      ({ bytes } = await uploadUpdate(this.client, this.metadata(), upload, this.session!.chunkSize, {
        round, numExamples: result.numExamples, metrics: result.metrics, trainSeconds: result.seconds, encoding,
      }));
    } catch (error) {
      // A refused update (closed round, failed verification) costs this round only; the party
      // stays in the federation. Transport failures propagate and lead to a rejoin.
      const code = (error as grpc.ServiceError).code;
      if (!UPDATE_REFUSALS.has(code)) throw error;
      this.extras.metrics?.updateRefused();
      this.log.warn({ round, phase: "upload", code: grpc.status[code], reason: (error as grpc.ServiceError).details }, "update refused by the aggregator");
      return;
    }
    this.extras.metrics?.uploaded(bytes, round);
    this.log.info({ round, phase: "upload", bytes, ms: Date.now() - started, train_seconds: result.seconds, ...samplesPerSecond(result), ...result.metrics }, "update uploaded");
  }

  private async reportTrainingFailure(round: number, reason: string): Promise<void> {
    try {
      await new Promise<void>((resolve, reject) =>
        this.client.ReportTrainingFailure({ round, reason: reason.slice(0, 1000) }, this.metadata(), { deadline: Date.now() + 30_000 }, (error: grpc.ServiceError | null) => (error ? reject(error) : resolve())));
      this.log.info({ round, phase: "train" }, "training failure reported to the aggregator");
    } catch (error) {
      // An older aggregator (UNIMPLEMENTED) or a closed round: the round's deadline drops this party as before.
      const e = error as grpc.ServiceError;
      this.log.warn({ round, phase: "train", code: grpc.status[e.code], reason: e.details || e.message }, "the training failure could not be reported to the aggregator");
    }
  }

  private async evaluate(round: number): Promise<void> {
    this.learner.setWeights(await this.globalWeights(round));
    const result = await this.learner.evaluate();
    try {
      await new Promise<void>((resolve, reject) =>
        this.client.ReportEvaluation({ round, numExamples: result.numExamples, metrics: result.metrics }, this.metadata(), (error: grpc.ServiceError | null) => (error ? reject(error) : resolve())));
    } catch (error) {
      // A refused report (a metric out of its range, a closed evaluation) costs this report only,
      // as a refused update does: the party keeps its instruction stream and takes the next round.
      const code = (error as grpc.ServiceError).code;
      if (!UPDATE_REFUSALS.has(code)) throw error;
      this.log.warn({ round, phase: "evaluate", code: grpc.status[code], reason: (error as grpc.ServiceError).details }, "evaluation report refused by the aggregator");
      return;
    }
    this.extras.metrics?.evaluated(result.metrics);
    this.log.info({ round, phase: "evaluate", examples: result.numExamples, ...result.metrics }, "global model evaluated");
  }
}

/** Buffers instructions as they arrive and remembers a stop, whatever is running. */
class InstructionInbox {
  private readonly queue: Instruction[] = [];
  private waiting: { resolve: (i: Instruction) => void; reject: (e: unknown) => void } | undefined;
  private failure: unknown;
  stopReason: string | undefined;

  constructor(stream: grpc.ClientReadableStream<Instruction>) {
    stream.on("data", (instruction: Instruction) => {
      if (instruction.kind === "stop") this.stopReason = instruction.stop.reason;
      this.deliver(instruction);
    });
    const fail = (error: unknown) => {
      this.failure ??= error;
      this.waiting?.reject(this.failure);
      this.waiting = undefined;
    };
    stream.on("error", fail);
    stream.on("end", () => fail(Object.assign(new Error("instruction stream ended"), { code: grpc.status.UNAVAILABLE })));
  }

  next(): Promise<Instruction> {
    const queued = this.queue.shift();
    if (queued) return Promise.resolve(queued);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => { this.waiting = { resolve, reject }; });
  }

  private deliver(instruction: Instruction): void {
    if (this.waiting) {
      this.waiting.resolve(instruction);
      this.waiting = undefined;
    } else {
      this.queue.push(instruction);
    }
  }
}

/** The update encoding the aggregator asked for at join; an older aggregator says nothing: float32. */
function sessionEncoding(session: JoinResponse): UpdateEncoding {
  const encoding = session.updateEncoding || "float32";
  if (!isUpdateEncoding(encoding)) throw new Error(`the aggregator asks for update encoding "${encoding}", which this party does not know (float32, float16, int8)`);
  return encoding;
}

/** The round's training speed as a log field, rounded (absent when the learner does not count samples). */
function samplesPerSecond(result: TrainResult): { samples_per_second?: number } {
  return result.samplesPerSecond === undefined ? {} : { samples_per_second: Math.round(result.samplesPerSecond) };
}
