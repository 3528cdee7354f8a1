import { type Dealer, MASKED_UPDATE_ENCODING, PartyRound, type RoundParams } from "@cohort/secagg";
import type { WeightSet } from "@cohort/tensors";
import type { Logger } from "@cohort/telemetry";
import type { Instruction, LocalHyperparamsMessage, SecureAggregationParamsMessage } from "@cohort/wire";

/** Calls a unary RPC of the Federation service (the party's client, metadata and deadline). */
export type UnaryCall = (method: "AdvertiseKeys" | "ShareKeys" | "Unmask", request: object) => Promise<void>;

type Step<K extends Instruction["kind"]> = Extract<Instruction, { kind: K }>;

/** A secure round the party takes part in, from its train instruction to its unmasking. */
interface PendingRound {
  round: number;
  hyperparams: LocalHyperparamsMessage;
  protocol: PartyRound;
}

/** What the party uploads in a secure round instead of its weights. */
export interface MaskedUpload {
  weights: WeightSet;
  encoding: typeof MASKED_UPDATE_ENCODING;
}

/**
 * A party's side of secure aggregation: answers the aggregator's key-phase instructions through
 * @cohort/secagg's PartyRound, and masks the trained update. The update never leaves the party
 * unmasked: what it uploads is its quantized, pre-scaled change plus masks that only cancel in
 * the sum of all parties' uploads.
 */
export class SecureAggregationSteps {
  private pending: PendingRound | undefined;

  /** `dealer`: a test's dishonest Shamir dealer (default: honest). */
  constructor(private readonly self: string, private readonly call: UnaryCall, private readonly log: Logger, private readonly dealer?: Dealer) {}

  /** The train instruction of a secure round: new keys for it, advertised to the aggregator. */
  async begin(round: number, hyperparams: LocalHyperparamsMessage, params: SecureAggregationParamsMessage): Promise<void> {
    const resolved: RoundParams = { threshold: params.threshold, neighbours: params.neighbours, clippingRange: params.clippingRange, bits: params.quantizationBits, totalExamples: params.totalExamples, equalWeights: params.equalWeights === true };
    const protocol = new PartyRound(this.self, round, resolved, this.dealer);
    this.pending = { round, hyperparams, protocol };
    const keys = protocol.keys();
    await this.call("AdvertiseKeys", { round, encryptionKey: keys.encryptionKey, maskingKey: keys.maskingKey, seedCommitment: keys.seedCommitment });
    this.log.info({ round, phase: "secagg-advertise", threshold: params.threshold, neighbours: params.neighbours }, "secure round: keys advertised");
  }

  async shareKeys({ shareKeys }: Step<"shareKeys">): Promise<void> {
    const pending = this.current(shareKeys.round);
    const sealed = pending.protocol.shareKeys(shareKeys.roster.map((k) => ({ party: k.party, encryptionKey: k.encryptionKey, maskingKey: k.maskingKey, seedCommitment: k.seedCommitment })));
    await this.call("ShareKeys", { round: shareKeys.round, shares: sealed.map((s) => ({ from: s.from, to: s.to, ciphertext: s.ciphertext })) });
    this.log.info({ round: shareKeys.round, phase: "secagg-share", neighbours: pending.protocol.neighbourhood.length }, "secure round: shares dealt");
  }

  /** Opens the shares dealt to this party; returns the round's hyperparameters (train now) and how to mask. */
  maskedInput({ maskedInput }: Step<"maskedInput">): { hyperparams: LocalHyperparamsMessage; mask: (trained: WeightSet, base: WeightSet, numExamples: number) => MaskedUpload } {
    const pending = this.current(maskedInput.round);
    pending.protocol.receiveShares(maskedInput.shares);
    return { hyperparams: pending.hyperparams, mask: (trained, base, numExamples) => this.mask(pending, trained, base, numExamples) };
  }

  async unmask({ unmask }: Step<"unmask">): Promise<void> {
    const pending = this.current(unmask.round);
    const shares = pending.protocol.reveal(unmask.survivors, unmask.dropped);
    await this.call("Unmask", { round: unmask.round, shares: shares.map((s) => ({ owner: s.owner, maskingKey: s.kind === "key", value: s.value })) });
    this.log.info({ round: unmask.round, phase: "secagg-unmask", survivors: unmask.survivors.length, dropped: unmask.dropped.length }, "secure round: shares revealed");
    this.pending = undefined;
  }

  private current(round: number): PendingRound {
    if (this.pending?.round !== round) throw new Error(`secure round ${round} is not the one this party is in (${this.pending?.round ?? "none"})`);
    return this.pending;
  }

  /**
   * The masked upload: (trained - base) * numExamples / totalExamples (1 / totalExamples under
   * equal weights) for every float32 element
   * in manifest order (FedAvg's weighting, applied before masking), quantized and masked.
   */
  private mask(pending: PendingRound, trained: WeightSet, base: WeightSet, numExamples: number): MaskedUpload {
    const elements = trained.reduce((n, t) => n + t.data.length, 0);
    const values = new Float64Array(elements);
    const { totalExamples, equalWeights } = pending.protocol.params;
    const scale = (equalWeights ? 1 : numExamples) / totalExamples;
    let at = 0;
    trained.forEach((t, i) => {
      if (t.dtype !== "float32") throw new Error(`secure aggregation masks float32 tensors only; ${t.name} is ${t.dtype}`);
      const after = t.data as Float32Array;
      const before = base[i].data as Float32Array;
      for (let j = 0; j < after.length; j++) values[at + j] = (after[j] - before[j]) * scale;
      at += after.length;
    });
    const masked = pending.protocol.mask(values);
    const bytes = new Uint8Array(masked.buffer, masked.byteOffset, masked.byteLength);
    return { weights: [{ name: "masked", dtype: "uint8", shape: [bytes.byteLength], data: bytes }], encoding: MASKED_UPDATE_ENCODING };
  }
}
