/** What the protocol's steps exchange, free of gRPC (the services map these onto cohort.v1 messages). */

/** A party's public keys for a round: one for encrypting shares, one for pairwise masks, and a commitment to its self-mask seed. */
export interface AdvertisedKeys {
  party: string;
  encryptionKey: Uint8Array;
  maskingKey: Uint8Array;
  /** SHA-256 of the self-mask seed: lets the aggregator check a reconstructed seed (it reveals nothing of a 256-bit seed). */
  seedCommitment: Uint8Array;
}

/** Shares of a party's two secrets for one holder, sealed with their pairwise key (the aggregator only routes it). */
export interface SealedShares { from: string; to: string; ciphertext: Uint8Array }

/** A share a survivor reveals at unmasking: of a survivor's self-mask seed, or of a dropped party's masking key. */
export interface RevealedShare { owner: string; kind: "seed" | "key"; value: Uint8Array }

export const SHARE_CONTEXT = "cohort secagg share";
export const MASK_CONTEXT = "cohort secagg mask";

/** The context a pair's derived key is bound to: purpose, round and the pair in name order (both sides derive the same). */
export function pairContext(purpose: string, round: number, a: string, b: string): string {
  const [lo, hi] = a < b ? [a, b] : [b, a];
  return `${purpose}|round ${round}|${lo}|${hi}`;
}

/** The data a sealed share is authenticated with: a share sealed for another round, sender or holder fails to open. */
export function shareAad(round: number, from: string, to: string): string {
  return `${SHARE_CONTEXT}|round ${round}|from ${from}|to ${to}`;
}

/** Party a adds the pair's mask, party b subtracts it (a before b in name order): they cancel in the sum. */
export function pairSign(self: string, other: string): 1 | -1 {
  return self < other ? 1 : -1;
}

/** The encoding a masked update's upload declares in its header (UpdateHeader.encoding). */
export const MASKED_UPDATE_ENCODING = "secagg-masked";
