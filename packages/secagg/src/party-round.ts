import { createHash } from "node:crypto";
import { neighbours } from "./graph.js";
import { type KeyPair, KEY_BYTES, agree, generateKeyPair, open, randomSeed, seal } from "./keys.js";
import { type AdvertisedKeys, MASK_CONTEXT, type RevealedShare, SHARE_CONTEXT, type SealedShares, pairContext, pairSign, shareAad } from "./messages.js";
import type { RoundParams } from "./params.js";
import { addMask, maskSlice } from "./prg.js";
import { quantizeInto } from "./quantize.js";
import { SHARE_BYTES, type Share, bigIntToBytes, split } from "./shamir.js";

/** Splits a secret into shares at positions xs, any threshold of which recover it. */
export type Dealer = (secret: Uint8Array, xs: readonly number[], threshold: number) => Share[];

/** Plaintext of sealed shares: the seed's share then the masking key's (each SHARE_BYTES). */
export const SHARE_PAYLOAD_BYTES = 2 * SHARE_BYTES;

export class ProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ProtocolError";
  }
}

/**
 * One party's side of one secure round (Bonawitz et al. 2017, with Bell et al.'s neighbourhoods):
 * keys() to advertise, shareKeys() once the roster of advertised keys is known, receiveShares()
 * with what the neighbours dealt it, mask() of its pre-scaled update, reveal() at unmasking.
 * Pure: no I/O; the party service carries its messages.
 */
export class PartyRound {
  private readonly encryption: KeyPair = generateKeyPair();
  private readonly masking: KeyPair = generateKeyPair();
  private readonly seed = randomSeed();
  private roster: AdvertisedKeys[] = [];
  private neighbourNames: string[] = [];
  /** Shares held for each owner (self included): [seed share, key share]. */
  private readonly held = new Map<string, [Uint8Array, Uint8Array]>();
  private revealed = false;

  /**
   * `deal`: how secrets are split (Shamir's `split`); a test passes a dishonest dealer to check
   * that the aggregator detects and names it.
   */
  constructor(readonly self: string, readonly round: number, readonly params: RoundParams, private readonly deal: Dealer = split) {
    // The parameters come from the aggregator: a party checks those its privacy rests on.
    const { threshold, neighbours: k, clippingRange, bits, totalExamples } = params;
    if (!Number.isInteger(bits) || bits < 2 || bits > 30) throw new ProtocolError(`quantization_bits ${bits} is outside [2, 30]`);
    if (!(clippingRange > 0) || !Number.isFinite(clippingRange)) throw new ProtocolError(`clipping_range ${clippingRange} is not a positive number`);
    if (!Number.isSafeInteger(totalExamples) || totalExamples < 1) throw new ProtocolError(`total_examples ${totalExamples} is not a positive integer`);
    if (!Number.isInteger(k) || k < 1 || !Number.isInteger(threshold) || threshold > k + 1 || threshold <= (k + 1) / 2) {
      throw new ProtocolError(`threshold ${threshold} is not a majority of the ${k + 1} shares a party deals: the aggregator could recover both of a party's secrets`);
    }
  }

  keys(): AdvertisedKeys {
    return { party: this.self, encryptionKey: this.encryption.publicKey, maskingKey: this.masking.publicKey, seedCommitment: createHash("sha256").update(this.seed).digest() };
  }

  /** My position among the roster (Shamir's x is position + 1). */
  private position(name: string): number {
    return this.roster.findIndex((k) => k.party === name);
  }

  /**
   * Deals shares of the seed and the masking private key to the neighbours (sealed for each) and
   * keeps its own. `roster`: every advertised party, sorted by name, this one with its own keys.
   */
  shareKeys(roster: readonly AdvertisedKeys[]): SealedShares[] {
    const sorted = [...roster].sort((a, b) => (a.party < b.party ? -1 : a.party > b.party ? 1 : 0));
    if (new Set(sorted.map((k) => k.party)).size !== sorted.length) throw new ProtocolError("the roster names a party twice");
    const me = sorted.find((k) => k.party === this.self);
    const mine = this.keys();
    if (!me || !equal(me.encryptionKey, mine.encryptionKey) || !equal(me.maskingKey, mine.maskingKey)) throw new ProtocolError(`the roster does not hold ${this.self}'s own keys`);
    for (const k of sorted) {
      if (k.encryptionKey.byteLength !== KEY_BYTES || k.maskingKey.byteLength !== KEY_BYTES) throw new ProtocolError(`${k.party}'s keys are not ${KEY_BYTES} bytes`);
    }
    if (sorted.length <= this.params.threshold - 1) throw new ProtocolError(`only ${sorted.length} parties advertised keys; ${this.params.threshold} are needed`);
    this.roster = sorted;
    const index = this.position(this.self);
    const k = Math.min(this.params.neighbours, sorted.length - 1);
    this.neighbourNames = neighbours(index, sorted.length, k).map((j) => sorted[j].party);
    const holders = [index, ...this.neighbourNames.map((n) => this.position(n))];
    const xs = holders.map((j) => j + 1);
    const seedShares = this.deal(this.seed, xs, this.params.threshold);
    const keyShares = this.deal(this.masking.privateKey, xs, this.params.threshold);
    const sealed: SealedShares[] = [];
    holders.forEach((j, i) => {
      const pair: [Uint8Array, Uint8Array] = [bigIntToBytes(seedShares[i].y, SHARE_BYTES), bigIntToBytes(keyShares[i].y, SHARE_BYTES)];
      const holder = sorted[j];
      if (holder.party === this.self) {
        this.held.set(this.self, pair);
        return;
      }
      const key = agree(this.encryption.privateKey, holder.encryptionKey, pairContext(SHARE_CONTEXT, this.round, this.self, holder.party));
      sealed.push({ from: this.self, to: holder.party, ciphertext: seal(key, concat(pair), shareAad(this.round, this.self, holder.party)) });
    });
    return sealed;
  }

  /** The neighbours this party masks with and holds shares of (after shareKeys). */
  get neighbourhood(): readonly string[] {
    return this.neighbourNames;
  }

  /**
   * Opens the shares the neighbours dealt this party. Only neighbours that dealt shares are masked
   * with: the aggregator routes the shares of exactly the parties still in the round.
   */
  receiveShares(incoming: readonly SealedShares[]): void {
    for (const s of incoming) {
      if (s.to !== this.self) throw new ProtocolError(`a share for ${s.to} was routed to ${this.self}`);
      if (!this.neighbourNames.includes(s.from)) throw new ProtocolError(`${s.from} is not a neighbour of ${this.self}`);
      if (this.held.has(s.from)) throw new ProtocolError(`${s.from} dealt ${this.self} shares twice`);
      const sender = this.roster[this.position(s.from)];
      const key = agree(this.encryption.privateKey, sender.encryptionKey, pairContext(SHARE_CONTEXT, this.round, this.self, s.from));
      let plain: Uint8Array;
      try {
        plain = open(key, s.ciphertext, shareAad(this.round, s.from, this.self));
      } catch {
        throw new ProtocolError(`the shares from ${s.from} do not open with its advertised key (tampered or misrouted)`);
      }
      if (plain.byteLength !== SHARE_PAYLOAD_BYTES) throw new ProtocolError(`the shares from ${s.from} are ${plain.byteLength} bytes, expected ${SHARE_PAYLOAD_BYTES}`);
      this.held.set(s.from, [plain.slice(0, SHARE_BYTES), plain.slice(SHARE_BYTES)]);
    }
  }

  /** Neighbours that dealt shares to this party: its pairwise masks are with them. */
  get maskPeers(): string[] {
    return this.neighbourNames.filter((n) => this.held.has(n));
  }

  /**
   * The masked, quantized update: `values` (already pre-scaled) quantized, plus the self-mask,
   * plus each pairwise mask with its sign. The result reveals nothing without the masks.
   */
  mask(values: ArrayLike<number>): Uint32Array {
    const out = new Uint32Array(values.length);
    quantizeInto(values, this.params, out);
    addMask(out, maskSlice(this.seed, 0, values.length), 1);
    for (const peer of this.maskPeers) {
      const pk = this.roster[this.position(peer)].maskingKey;
      const pairSeed = agree(this.masking.privateKey, pk, pairContext(MASK_CONTEXT, this.round, this.self, peer));
      addMask(out, maskSlice(pairSeed, 0, values.length), pairSign(this.self, peer));
    }
    return out;
  }

  /**
   * The shares the aggregator needs to unmask: the seed's share of each survivor, the masking
   * key's share of each dropped party, never both for one party (that would unmask it). Asked
   * once per round.
   */
  reveal(survivors: readonly string[], dropped: readonly string[]): RevealedShare[] {
    if (this.revealed) throw new ProtocolError("shares were already revealed this round");
    const alive = new Set(survivors);
    if (dropped.some((d) => alive.has(d))) throw new ProtocolError("a party is listed both as a survivor and as dropped");
    if (!alive.has(this.self)) throw new ProtocolError(`${this.self} is not among the survivors`);
    if (survivors.length < this.params.threshold) throw new ProtocolError(`only ${survivors.length} survivors; unmasking needs ${this.params.threshold}`);
    this.revealed = true;
    const out: RevealedShare[] = [];
    for (const [owner, [seedShare, keyShare]] of this.held) {
      if (alive.has(owner)) out.push({ owner, kind: "seed", value: seedShare });
      else if (dropped.includes(owner)) out.push({ owner, kind: "key", value: keyShare });
    }
    return out;
  }

  /** Position of `party` in the round's roster + 1 (Shamir's x), for tests and the aggregator. */
  shareIndex(party: string): number {
    return this.position(party) + 1;
  }
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && a.every((v, i) => v === b[i]);
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}
