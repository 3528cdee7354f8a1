import { createHash } from "node:crypto";
import { neighbours } from "./graph.js";
import { KEY_BYTES, agree, publicKeyOf } from "./keys.js";
import { type AdvertisedKeys, MASK_CONTEXT, type RevealedShare, type SealedShares, pairContext, pairSign } from "./messages.js";
import type { RoundParams } from "./params.js";
import { SHARE_PAYLOAD_BYTES } from "./party-round.js";
import { addMask, maskSlice } from "./prg.js";
import { SHARE_BYTES, type Share, bigIntToBytes, bytesToBigInt, reconstructChecked } from "./shamir.js";

/** AES-GCM's IV and tag around a share payload. */
export const SEALED_SHARES_BYTES = 12 + SHARE_PAYLOAD_BYTES + 16;
const COMMITMENT_BYTES = 32;

/** A peer broke the protocol: the service answers it with INVALID_ARGUMENT (or FAILED_PRECONDITION for `phase`). */
export class SecAggRefusal extends Error {
  constructor(message: string, readonly kind: "invalid" | "phase" = "invalid") {
    super(message);
    this.name = "SecAggRefusal";
  }
}

/** What unmasking recovered, and whose shares were wrong (named in the round's report). */
export interface Recovery {
  /** The round cannot be unmasked: why, naming the parties. */
  failure?: string;
  /** Shares that disagreed with the others but were outvoted (the secret was still recovered). */
  warnings: string[];
}

/**
 * The aggregator's side of one secure round: it holds public keys, routes sealed shares it cannot
 * open, learns who survived, reconstructs the survivors' self-mask seeds and the dropped parties'
 * masking keys from revealed shares (checking every share), then removes those masks from the
 * masked sum slice by slice. It never sees an individual update: only masked vectors and, at the
 * end, their unmasked sum.
 */
export class AggregatorRound {
  private readonly advertised = new Map<string, AdvertisedKeys>();
  private roster: AdvertisedKeys[] = [];
  private readonly dealt = new Map<string, SealedShares[]>();
  private sharerList: string[] = [];
  private readonly uploaded = new Set<string>();
  private survivorList: string[] = [];
  private droppedList: string[] = [];
  private readonly revealed = new Map<string, RevealedShare[]>();
  private seeds = new Map<string, Uint8Array>();
  /** Pairwise seeds a survivor j shares with a dropped party d, and the sign j added it with. */
  private orphanMasks: { seed: Uint8Array; sign: 1 | -1 }[] = [];

  constructor(readonly round: number, readonly participants: readonly string[], readonly params: RoundParams) {}

  advertise(keys: AdvertisedKeys): void {
    const { party } = keys;
    if (!this.participants.includes(party)) throw new SecAggRefusal(`${party} is not a participant of secure round ${this.round}`, "phase");
    if (this.roster.length) throw new SecAggRefusal(`the key advertisement of round ${this.round} is closed`, "phase");
    if (this.advertised.has(party)) throw new SecAggRefusal(`${party} already advertised keys for round ${this.round}`);
    if (keys.encryptionKey.byteLength !== KEY_BYTES || keys.maskingKey.byteLength !== KEY_BYTES) throw new SecAggRefusal(`public keys must be ${KEY_BYTES} bytes (X25519)`);
    if (keys.seedCommitment.byteLength !== COMMITMENT_BYTES) throw new SecAggRefusal(`the seed commitment must be ${COMMITMENT_BYTES} bytes (SHA-256)`);
    if (equal(keys.encryptionKey, keys.maskingKey)) throw new SecAggRefusal("the encryption and masking keys must differ");
    this.advertised.set(party, { party, encryptionKey: Uint8Array.from(keys.encryptionKey), maskingKey: Uint8Array.from(keys.maskingKey), seedCommitment: Uint8Array.from(keys.seedCommitment) });
  }

  /** Closes advertisement: the roster every party deals shares over (sorted by name). */
  closeAdvertisement(): AdvertisedKeys[] {
    this.roster = [...this.advertised.values()].sort((a, b) => (a.party < b.party ? -1 : a.party > b.party ? 1 : 0));
    return this.roster;
  }

  private position(party: string): number {
    return this.roster.findIndex((k) => k.party === party);
  }

  private neighbourNames(party: string): string[] {
    const k = Math.min(this.params.neighbours, this.roster.length - 1);
    return neighbours(this.position(party), this.roster.length, k).map((j) => this.roster[j].party);
  }

  /** `party`'s sealed shares: exactly one for each of its neighbours, each of the sealed size. */
  acceptShares(party: string, sealed: readonly { to: string; ciphertext: Uint8Array }[]): void {
    if (!this.roster.length || this.sharerList.length) throw new SecAggRefusal(`round ${this.round} is not taking shares`, "phase");
    if (this.position(party) < 0) throw new SecAggRefusal(`${party} did not advertise keys in round ${this.round}`, "phase");
    if (this.dealt.has(party)) throw new SecAggRefusal(`${party} already dealt its shares in round ${this.round}`);
    const expected = new Set(this.neighbourNames(party));
    const seen = new Set<string>();
    for (const s of sealed) {
      if (!expected.has(s.to)) throw new SecAggRefusal(`a share for ${s.to.slice(0, 64)}, which is not a neighbour of ${party}`);
      if (seen.has(s.to)) throw new SecAggRefusal(`two shares for ${s.to}`);
      if (s.ciphertext.byteLength !== SEALED_SHARES_BYTES) throw new SecAggRefusal(`the sealed share for ${s.to} is ${s.ciphertext.byteLength} bytes, expected ${SEALED_SHARES_BYTES}`);
      seen.add(s.to);
    }
    if (seen.size !== expected.size) throw new SecAggRefusal(`${seen.size} shares dealt, expected one for each of ${expected.size} neighbours`);
    this.dealt.set(party, sealed.map((s) => ({ from: party, to: s.to, ciphertext: Uint8Array.from(s.ciphertext) })));
  }

  /** Closes dealing: the parties that dealt shares go on to the masked upload; returns them. */
  closeSharing(): string[] {
    this.sharerList = this.roster.map((k) => k.party).filter((p) => this.dealt.has(p));
    return this.sharerList;
  }

  /** Parties that dealt shares (after closeSharing). */
  get sharers(): readonly string[] {
    return this.sharerList;
  }

  /** The shares dealt to `party` by the parties still in the round. */
  sharesFor(party: string): SealedShares[] {
    return this.sharerList.flatMap((from) => this.dealt.get(from)!.filter((s) => s.to === party));
  }

  /** Whether `party` may upload a masked update (it dealt shares, and has not uploaded yet). */
  mayUpload(party: string): boolean {
    return this.sharerList.includes(party) && !this.uploaded.has(party) && !this.survivorList.length;
  }

  /** A masked update of `party` was folded into the sum. */
  uploadedBy(party: string): void {
    this.uploaded.add(party);
  }

  /** Closes the upload: survivors (their masked updates are in the sum) and dropped parties (dealt shares, no update). */
  closeUpload(): { survivors: string[]; dropped: string[] } {
    this.survivorList = this.sharerList.filter((p) => this.uploaded.has(p));
    this.droppedList = this.sharerList.filter((p) => !this.uploaded.has(p));
    return { survivors: this.survivorList, dropped: this.droppedList };
  }

  get survivors(): readonly string[] {
    return this.survivorList;
  }

  get dropped(): readonly string[] {
    return this.droppedList;
  }

  /** A survivor's revealed shares: of its neighbours' (and its own) seeds if they survived, keys if they dropped. */
  acceptReveal(party: string, shares: readonly RevealedShare[]): void {
    if (!this.survivorList.includes(party)) throw new SecAggRefusal(`${party} is not a survivor of round ${this.round}`, "phase");
    if (this.revealed.has(party)) throw new SecAggRefusal(`${party} already revealed its shares in round ${this.round}`);
    const mine = new Set([party, ...this.neighbourNames(party)]);
    const seen = new Set<string>();
    for (const s of shares) {
      if (!mine.has(s.owner) || !this.sharerList.includes(s.owner)) throw new SecAggRefusal(`${party} holds no share of ${s.owner.slice(0, 64)}`);
      const expectedKind = this.survivorList.includes(s.owner) ? "seed" : "key";
      if (s.kind !== expectedKind) throw new SecAggRefusal(`a ${s.kind} share of ${s.owner}, whose ${expectedKind} share is asked for`);
      if (seen.has(s.owner)) throw new SecAggRefusal(`two shares of ${s.owner}`);
      if (s.value.byteLength !== SHARE_BYTES) throw new SecAggRefusal(`a share of ${s.owner} is ${s.value.byteLength} bytes, expected ${SHARE_BYTES}`);
      seen.add(s.owner);
    }
    this.revealed.set(party, shares.map((s) => ({ ...s, value: Uint8Array.from(s.value) })));
  }

  /** Parties that revealed their shares. */
  get revealers(): string[] {
    return [...this.revealed.keys()];
  }

  /**
   * Reconstructs every survivor's seed (checked against its commitment) and every dropped
   * party's masking key (checked against its advertised public key), each from all the shares
   * revealed, which must lie on one polynomial: a wrong share is outvoted when the others agree
   * and named either way.
   */
  recover(): Recovery {
    const warnings: string[] = [];
    const failures: string[] = [];
    const sharesOf = (owner: string, kind: "seed" | "key"): Share[] => {
      const out: Share[] = [];
      for (const [holder, list] of this.revealed) {
        const s = list.find((r) => r.owner === owner && r.kind === kind);
        if (s) out.push({ x: this.position(holder) + 1, y: bytesToBigInt(s.value) });
      }
      return out.sort((a, b) => a.x - b.x);
    };
    const holderAt = (x: number) => this.roster[x - 1].party;
    const what = (kind: "seed" | "key") => (kind === "seed" ? "self-mask seed" : "masking key");
    const recoverOne = (owner: string, kind: "seed" | "key", check: (secret: Uint8Array) => boolean): Uint8Array | undefined => {
      const shares = sharesOf(owner, kind);
      const result = reconstructChecked(shares, this.params.threshold);
      if (!result.ok) {
        failures.push(result.reason === "too-few"
          ? `${shares.length} shares of ${owner}'s ${what(kind)} were revealed, ${this.params.threshold} are needed`
          : `${owner}'s shares of its ${what(kind)} are inconsistent (held by ${result.outliers.map(holderAt).join(", ")}: they do not lie on one polynomial): ${owner} dealt inconsistent shares`);
        return undefined;
      }
      let secret: Uint8Array;
      try {
        secret = bigIntToBytes(result.secret, KEY_BYTES);
      } catch {
        failures.push(`${owner}'s shares of its ${what(kind)} do not reconstruct a ${KEY_BYTES}-byte secret: ${owner} dealt inconsistent shares`);
        return undefined;
      }
      if (!check(secret)) {
        failures.push(`${owner}'s ${what(kind)} reconstructed from its shares does not match what it advertised: ${owner} dealt inconsistent shares`);
        return undefined;
      }
      for (const x of result.outliers) warnings.push(`the share of ${owner}'s ${what(kind)} held by ${holderAt(x)} disagrees with the other ${shares.length - 1} (outvoted): ${owner} dealt it wrong or ${holderAt(x)} revealed it wrong`);
      return secret;
    };
    this.seeds = new Map();
    for (const s of this.survivorList) {
      const commitment = this.advertised.get(s)!.seedCommitment;
      const seed = recoverOne(s, "seed", (secret) => equal(createHash("sha256").update(secret).digest(), commitment));
      if (seed) this.seeds.set(s, seed);
    }
    this.orphanMasks = [];
    for (const d of this.droppedList) {
      const advertised = this.advertised.get(d)!.maskingKey;
      const key = recoverOne(d, "key", (secret) => equal(publicKeyOf(secret), advertised));
      if (!key) continue;
      for (const j of this.neighbourNames(d)) {
        if (!this.survivorList.includes(j)) continue;
        const pk = this.advertised.get(j)!.maskingKey;
        this.orphanMasks.push({ seed: agree(key, pk, pairContext(MASK_CONTEXT, this.round, d, j)), sign: pairSign(j, d) });
      }
    }
    return { failure: failures.length ? failures.join("; ") : undefined, warnings };
  }

  /** Removes the survivors' self-masks and the dropped parties' pairwise masks from `sum[0..]` = elements start.. of the masked sum (after recover). */
  unmaskSlice(sum: Uint32Array, start: number): void {
    for (const seed of this.seeds.values()) addMask(sum, maskSlice(seed, start, sum.length), -1);
    for (const { seed, sign } of this.orphanMasks) addMask(sum, maskSlice(seed, start, sum.length), sign === 1 ? -1 : 1);
  }
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && a.every((v, i) => v === b[i]);
}
