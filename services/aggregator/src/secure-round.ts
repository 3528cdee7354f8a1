import { type FusionStrategy, type ModelSlices, type StagedBytes, secureAggregationRefusal } from "@cohort/fusion";
import { AggregatorRound, MaskedSum, type RoundParams, SecAggRefusal, type SecureAggregationConfig, dequantizeSumInto, roundParams } from "@cohort/secagg";
import { type Manifest, manifestByteLength } from "@cohort/tensors";
import type { Logger } from "@cohort/telemetry";
import { type AdvertiseKeysRequest, type Instruction, type SecureAggregationParamsMessage, type ShareKeysRequest, type UnmaskRequest, failedPrecondition, invalidArgument } from "@cohort/wire";
import { Collector } from "./collector.js";
import type { AggregatorSettings } from "./settings.js";

/** What a secure round needs from the aggregator's round. */
export interface SecureRoundHost {
  log: Logger;
  send(party: string, instruction: Instruction): boolean;
  /** Per key phase (advertise, share, unmask): the round's max_timeout. */
  deadlineMs: number;
  abort: AbortSignal;
}

type KeyPhase = "advertise" | "share" | "upload" | "unmask" | "done";

/** Largest party name a secure message may carry (names are the allow-list's, far shorter). */
const MAX_NAME_CHARS = 256;

/**
 * The aggregator's orchestration of one secure round around the @cohort/secagg protocol: sends
 * the key-phase instructions, collects each phase's answers (bounded by the round's deadline),
 * folds masked updates into the modular sum, and at the end serves the unmasked mean slice by
 * slice. The gRPC handlers hand it requests; it refuses anything out of phase or malformed.
 */
export class SecureRound {
  readonly protocol: AggregatorRound;
  private phase: KeyPhase = "advertise";
  private collector: Collector<true> | undefined;
  /** Payload bytes of the key phases (keys, sealed and revealed shares, names), received and sent: the protocol's cost beyond the masked upload. */
  readonly keyBytes = { in: 0, out: 0 };
  /** Why the masked sum is unusable (an upload that failed part way through its addition). */
  private damage: string | undefined;
  /** Survivors' example counts (from their upload headers): the mean divides by their total. */
  private readonly examples = new Map<string, number>();

  private constructor(readonly round: number, readonly params: RoundParams, participants: string[], readonly sum: MaskedSum) {
    this.protocol = new AggregatorRound(round, participants, params);
  }

  /** A secure round for `participants`, or why the config cannot run one for this model and these parties. */
  static start(config: SecureAggregationConfig, round: number, participants: string[], declaredExamples: number, manifest: Manifest, sum: MaskedSum | undefined, equalWeights = false): SecureRound | { failed: string } {
    const other = manifest.tensors.find((t) => t.dtype !== "float32");
    if (other) return { failed: `secure aggregation masks float32 tensors only; tensor ${other.name} is ${other.dtype}` };
    let params: RoundParams;
    try {
      params = roundParams(config, participants.length, declaredExamples, equalWeights);
    } catch (error) {
      return { failed: (error as Error).message };
    }
    const elements = manifestByteLength(manifest) / 4;
    const masked = sum?.elements === elements ? sum : new MaskedSum(elements);
    masked.reset();
    return new SecureRound(round, params, [...participants].sort(), masked);
  }

  /** What the train instruction carries. */
  get trainParams(): SecureAggregationParamsMessage {
    const p = this.params;
    return { threshold: p.threshold, neighbours: p.neighbours, clippingRange: p.clippingRange, quantizationBits: p.bits, totalExamples: p.totalExamples, equalWeights: p.equalWeights === true };
  }

  /**
   * Advertise and share phases (the train instruction, with these params, was just sent), each
   * bounded by the host's deadline: parties that miss one leave the round. Resolves with the
   * parties that dealt shares, which go on to train and upload (startUploads).
   */
  async exchangeKeys(host: SecureRoundHost, instruction: Instruction): Promise<{ failed: string } | { sharers: string[] }> {
    const { round } = this;
    const t = this.params.threshold;
    await this.collect(host, "advertise", this.protocol.participants, instruction);
    const roster = this.protocol.closeAdvertisement();
    host.log.info({ round, phase: "secagg-advertise", parties: roster.length, threshold: t, neighbours: this.params.neighbours }, "secure round: keys advertised");
    if (roster.length < t) return { failed: `secure aggregation: only ${roster.length} parties advertised keys, the threshold is ${t}` };
    const rosterMessage = roster.map((k) => ({ party: k.party, encryptionKey: k.encryptionKey, maskingKey: k.maskingKey, seedCommitment: k.seedCommitment }));
    this.keyBytes.out += roster.length * rosterMessage.reduce((n, k) => n + k.party.length + 96, 0);
    await this.collect(host, "share", roster.map((k) => k.party), { kind: "shareKeys", shareKeys: { round, roster: rosterMessage } });
    const sharers = this.protocol.closeSharing();
    host.log.info({ round, phase: "secagg-share", parties: sharers.length }, "secure round: shares dealt");
    if (sharers.length < t) return { failed: `secure aggregation: only ${sharers.length} parties dealt shares, the threshold is ${t}` };
    return { sharers };
  }

  /** Tells each sharer the shares dealt to it: it trains now and uploads its masked update. Returns those it could not reach. */
  startUploads(host: SecureRoundHost): string[] {
    this.phase = "upload";
    return this.protocol.sharers.filter((party) => {
      const shares = this.protocol.sharesFor(party);
      this.keyBytes.out += shares.reduce((n, s) => n + s.from.length + s.to.length + s.ciphertext.byteLength, 0);
      return !host.send(party, { kind: "maskedInput", maskedInput: { round: this.round, shares } });
    });
  }

  /** Sends `instruction` to `parties` and collects their answers (a party it cannot reach is not waited for). */
  private async collect(host: SecureRoundHost, phase: KeyPhase, parties: readonly string[], instruction: Instruction) {
    this.phase = phase;
    const collector = new Collector<true>(this.round, parties, host.deadlineMs);
    this.collector = collector;
    for (const party of parties) if (!host.send(party, instruction)) collector.drop(party);
    const onAbort = () => collector.close("cancelled");
    host.abort.addEventListener("abort", onAbort);
    try {
      return await collector.closed;
    } finally {
      host.abort.removeEventListener("abort", onAbort);
    }
  }

  /** A party of this round left (its stream closed): no key phase waits for it. */
  drop(party: string): void {
    this.collector?.drop(party);
  }

  advertise(party: string, request: AdvertiseKeysRequest): void {
    this.expectPhase("advertise", "advertise keys");
    refused(() => this.protocol.advertise({ party, encryptionKey: request.encryptionKey, maskingKey: request.maskingKey, seedCommitment: request.seedCommitment }));
    this.collector!.submit(party, true);
    this.keyBytes.in += request.encryptionKey.byteLength + request.maskingKey.byteLength + request.seedCommitment.byteLength;
  }

  share(party: string, request: ShareKeysRequest): void {
    this.expectPhase("share", "deal shares");
    if (request.shares.length > this.protocol.participants.length) throw invalidArgument(`${request.shares.length} shares for a round of ${this.protocol.participants.length} parties`);
    if (request.shares.some((s) => s.to.length > MAX_NAME_CHARS)) throw invalidArgument(`a share's holder name exceeds ${MAX_NAME_CHARS} characters`);
    refused(() => this.protocol.acceptShares(party, request.shares));
    this.collector!.submit(party, true);
    this.keyBytes.in += request.shares.reduce((n, s) => n + s.to.length + s.ciphertext.byteLength, 0);
  }

  reveal(party: string, request: UnmaskRequest): void {
    this.expectPhase("unmask", "reveal shares");
    if (request.shares.length > this.protocol.participants.length) throw invalidArgument(`${request.shares.length} shares for a round of ${this.protocol.participants.length} parties`);
    if (request.shares.some((s) => s.owner.length > MAX_NAME_CHARS)) throw invalidArgument(`a share's owner name exceeds ${MAX_NAME_CHARS} characters`);
    refused(() => this.protocol.acceptReveal(party, request.shares.map((s) => ({ owner: s.owner, kind: s.maskingKey ? "key" : "seed", value: s.value }))));
    this.collector!.submit(party, true);
    this.keyBytes.in += request.shares.reduce((n, s) => n + s.owner.length + 1 + s.value.byteLength, 0);
  }

  /** Refuses a masked upload this round does not take (the party dealt no shares, or uploads are closed). */
  admit(party: string): void {
    if (this.phase !== "upload") throw failedPrecondition(`secure round ${this.round} does not take masked updates now (it is in its ${this.phase} phase)`);
    if (!this.protocol.mayUpload(party)) throw failedPrecondition(`${party} dealt no shares in secure round ${this.round} (or already uploaded)`);
  }

  /** Adds a verified masked update to the sum (slice by slice), then counts its party a survivor. */
  async fold(party: string, staged: StagedBytes, numExamples: number): Promise<void> {
    this.admit(party);
    try {
      await this.sum.add(staged);
    } catch (error) {
      // Part of the update may be in the sum, which no unmasking can take out again.
      this.damage ??= `${party}'s masked update could not be added whole (${(error as Error).message})`;
      throw error;
    }
    this.protocol.uploadedBy(party);
    this.examples.set(party, numExamples);
  }

  /**
   * The unmask phase, after the upload collection closed: survivors reveal shares, the secrets
   * are reconstructed and checked. Fails when too few survived or a dealer's shares are wrong.
   */
  async unmask(host: SecureRoundHost): Promise<{ failed?: string; warnings: string[]; survivors: string[]; dropped: string[] }> {
    const { survivors, dropped } = this.protocol.closeUpload();
    const t = this.params.threshold;
    if (this.damage) {
      this.phase = "done";
      return { failed: `secure aggregation: ${this.damage}: the round's sum is discarded`, warnings: [], survivors, dropped };
    }
    const sharers = survivors.length + dropped.length;
    if (survivors.length < t) {
      this.phase = "done";
      return { failed: `secure aggregation: ${dropped.length} of the ${sharers} parties that dealt shares sent no update (${dropped.join(", ")}); unmasking needs ${t} survivors, so at most ${sharers - t} may drop`, warnings: [], survivors, dropped };
    }
    this.keyBytes.out += survivors.length * [...survivors, ...dropped].reduce((n, p) => n + p.length, 0);
    const revealed = await this.collect(host, "unmask", survivors, { kind: "unmask", unmask: { round: this.round, survivors, dropped } });
    this.phase = "done";
    const recovery = this.protocol.recover();
    host.log.info({ round: this.round, phase: "secagg-unmask", survivors: survivors.length, dropped, revealed: revealed.results.size }, "secure round: shares revealed");
    return { failed: recovery.failure ? `secure aggregation: ${recovery.failure}` : undefined, warnings: recovery.warnings, survivors, dropped };
  }

  /**
   * The round's new global model as a readable update: previous + (unmasked sum of pre-scaled
   * changes) * declared total / survivors' total, computed slice by slice when read.
   */
  unmaskedModel(manifest: Manifest, previous: ModelSlices): StagedBytes {
    const survivors = this.protocol.survivors.length;
    // Equal weights: each pre-scaled by 1 / participants, so the survivors' total is their count.
    const survivorExamples = this.params.equalWeights ? survivors : [...this.examples.values()].reduce((a, b) => a + b, 0);
    const scale = this.params.totalExamples / survivorExamples;
    const size = manifestByteLength(manifest);
    const params = this.params;
    const protocol = this.protocol;
    const sum = this.sum.sum;
    return {
      size,
      async read(offset: number, length: number): Promise<Uint8Array> {
        const start = offset / 4;
        const slice = sum.slice(start, start + length / 4);
        protocol.unmaskSlice(slice, start);
        const deltas = new Float64Array(slice.length);
        dequantizeSumInto(slice, survivors, params, deltas);
        const base = await previous.read(offset, length);
        const before = new Float32Array(base.buffer.slice(base.byteOffset, base.byteOffset + length));
        const out = new Float32Array(slice.length);
        for (let i = 0; i < out.length; i++) out[i] = before[i] + deltas[i] * scale;
        return new Uint8Array(out.buffer);
      },
      async release() {},
    };
  }

  private expectPhase(phase: KeyPhase, what: string): void {
    if (this.phase !== phase) throw failedPrecondition(`secure round ${this.round} is in its ${this.phase} phase: it does not ${what} now`);
  }
}

/** Refuses settings that secure aggregation cannot honour, naming what to change. */
/** Central DP clips each update at the aggregator, which secure aggregation keeps from seeing one. */
export const SECURE_CENTRAL_DP = "hyperparams.global.secure_aggregation: differential_privacy.mode central clips each update at the aggregator, which cannot see updates under secure aggregation: use differential_privacy.mode distributed (each party clips and adds its share of the noise before masking)";

export function checkSecureAggregation(settings: AggregatorSettings, strategy: FusionStrategy): void {
  const refusal = secureAggregationRefusal(strategy);
  if (refusal) throw new Error(`hyperparams.global.secure_aggregation: ${refusal}`);
  if (settings.privacy?.mode === "central") throw new Error(SECURE_CENTRAL_DP);
  if (settings.maxUpdateNorm !== undefined) throw new Error("hyperparams.global.secure_aggregation: max_update_norm needs each update's norm, which the aggregator cannot see under secure aggregation (clip on the parties: clipping_range)");
  if ((settings.updateEncoding ?? "float32") !== "float32") throw new Error(`hyperparams.global.secure_aggregation: update_encoding ${settings.updateEncoding} cannot be masked: masked updates are their own encoding (leave update_encoding at float32)`);
}

/** Maps the protocol's refusals onto gRPC statuses. */
function refused(action: () => void): void {
  try {
    action();
  } catch (error) {
    if (!(error instanceof SecAggRefusal)) throw error;
    throw error.kind === "phase" ? failedPrecondition(error.message) : invalidArgument(error.message);
  }
}
