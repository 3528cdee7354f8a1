import * as grpc from "@grpc/grpc-js";
import { FederationError } from "@cohort/wire";
import type { AggregatorLimits } from "./limits.js";

/** Refusals that only a faulty or hostile peer earns; an honest party's bad luck (a closed round, a stale session, a cut link) is not counted. */
const STRIKES = new Set([grpc.status.INVALID_ARGUMENT, grpc.status.UNAUTHENTICATED, grpc.status.PERMISSION_DENIED]);

/** A refusal because the peer is cooling down: RESOURCE_EXHAUSTED, with the time left. */
export class CooldownError extends FederationError {
  /** `party`: the authenticated party, when the key is one. */
  constructor(readonly peer: string, readonly retryAfterMs: number, readonly party?: string) {
    super(grpc.status.RESOURCE_EXHAUSTED, `too many refused calls from ${peer}: calls refused for the next ${Math.ceil(retryAfterMs / 1000)} s`);
  }
}

/** The key of a peer: its party name once it authenticated, else its network address. */
export const partyKey = (party: string) => `party ${party}`;
export const addressKey = (address: string) => `address ${address}`;

/**
 * The host part of a grpc-js server call's peer ("127.0.0.1:5000", "::1:5000", "[::1]:5000"):
 * a peer that reconnects gets a new port, not a new address.
 */
export function peerAddress(peer: string): string {
  const bracketed = /^\[([^\]]+)\]/.exec(peer);
  if (bracketed) return bracketed[1];
  return peer.replace(/:\d+$/, "");
}

/**
 * Counts each peer's refused calls in a sliding window; a peer with `maxRejections` of them in
 * `rejectionWindowMs` is refused outright for `rejectionCooldownMs` (checked before the call's
 * messages are read), so a flood of junk costs the aggregator a map lookup per call and one log
 * line per cooldown instead of a verification and a warning each. Memory is bounded by
 * `maxTrackedPeers`.
 */
export class RejectionLimiter {
  private readonly peers = new Map<string, { strikes: number[]; until: number }>();

  constructor(private readonly limits: AggregatorLimits, private readonly now: () => number = Date.now) {}

  get enabled(): boolean {
    return this.limits.maxRejections > 0;
  }

  /** Milliseconds left of `key`'s cooldown; 0 when it may call. */
  cooldownLeft(key: string): number {
    const entry = this.peers.get(key);
    if (!entry || entry.until === 0) return 0;
    const left = entry.until - this.now();
    if (left > 0) return left;
    entry.until = 0;
    entry.strikes = [];
    return 0;
  }

  /** Throws CooldownError while `key` is cooling down. */
  check(key: string, party?: string): void {
    const left = this.cooldownLeft(key);
    if (left > 0) throw new CooldownError(key, left, party);
  }

  /** Whether `error` counts against the peer. */
  static isStrike(error: unknown): boolean {
    return error instanceof FederationError && !(error instanceof CooldownError) && STRIKES.has(error.code);
  }

  /** Records a refused call of `key`; true when this one starts a cooldown. */
  strike(key: string): boolean {
    if (!this.enabled) return false;
    const now = this.now();
    let entry = this.peers.get(key);
    if (entry) {
      this.peers.delete(key); // re-inserted last: the map's order is least recently refused first
    } else {
      entry = { strikes: [], until: 0 };
      if (this.peers.size >= this.limits.maxTrackedPeers) this.peers.delete(this.peers.keys().next().value!);
    }
    this.peers.set(key, entry);
    if (entry.until > now) return false;
    entry.strikes = entry.strikes.filter((t) => now - t < this.limits.rejectionWindowMs);
    entry.strikes.push(now);
    if (entry.strikes.length < this.limits.maxRejections) return false;
    entry.until = now + this.limits.rejectionCooldownMs;
    entry.strikes = [];
    return true;
  }

  /** Peers tracked (tests). */
  get size(): number {
    return this.peers.size;
  }
}
