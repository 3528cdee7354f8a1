import * as grpc from "@grpc/grpc-js";
import { FederationError, resourceExhausted } from "@cohort/wire";
import type { AggregatorLimits } from "./limits.js";

export type StreamKind = "instructions" | "download" | "upload";

/** What a stream slot knows of its call: the session it belongs to, and how to end it early. */
export interface SlotOwner {
  session?: string;
  /** Ends the call (its party rejoined: this stream belongs to a dead session). */
  cancel?: (reason: string) => void;
}

interface Slot extends SlotOwner { kind: StreamKind; release: () => void }

/**
 * Counts each party's open streams so that one party (or a stolen token) cannot pin the
 * aggregator's memory and file handles with thousands of idle calls. A party's newest
 * instruction stream replaces its older one in the count: after a network cut the old stream
 * may linger until keepalive notices, and the party must still be able to come back. For the
 * same reason, when a party joins again (`supersede`), the streams of its earlier sessions stop
 * counting and are ended: an upload left open by a cut link must not refuse the party's next one.
 */
export class StreamQuota {
  private readonly open = new Map<string, { total: number; uploads: number }>();
  private readonly instructionSlots = new Map<string, () => void>();
  private readonly slots = new Map<string, Set<Slot>>();

  constructor(private readonly limits: AggregatorLimits) {}

  /** Takes a slot for a stream or throws RESOURCE_EXHAUSTED; the returned release is idempotent. */
  acquire(party: string, kind: StreamKind, owner: SlotOwner = {}): () => void {
    if (kind === "instructions") this.instructionSlots.get(party)?.();
    const counts = this.open.get(party) ?? { total: 0, uploads: 0 };
    if (counts.total >= this.limits.maxStreamsPerParty) {
      throw resourceExhausted(`${party} already has ${counts.total} streams open (limit ${this.limits.maxStreamsPerParty})`);
    }
    if (kind === "upload" && counts.uploads >= this.limits.maxUploadsPerParty) {
      throw resourceExhausted(`an upload from ${party} is already in flight (limit ${this.limits.maxUploadsPerParty})`);
    }
    counts.total++;
    if (kind === "upload") counts.uploads++;
    this.open.set(party, counts);
    let released = false;
    const slot: Slot = { ...owner, kind, release: () => undefined };
    const release = () => {
      if (released) return;
      released = true;
      counts.total--;
      if (kind === "upload") counts.uploads--;
      if (counts.total === 0) this.open.delete(party);
      const mine = this.slots.get(party);
      mine?.delete(slot);
      if (mine?.size === 0) this.slots.delete(party);
      if (kind === "instructions" && this.instructionSlots.get(party) === release) this.instructionSlots.delete(party);
    };
    slot.release = release;
    if (!this.slots.has(party)) this.slots.set(party, new Set());
    this.slots.get(party)!.add(slot);
    if (kind === "instructions") this.instructionSlots.set(party, release);
    return release;
  }

  /** `party` joined again with `session`: its streams of other sessions are released and cancelled; returns how many. */
  supersede(party: string, session: string): number {
    const stale = [...(this.slots.get(party) ?? [])].filter((s) => s.session !== undefined && s.session !== session);
    for (const slot of stale) {
      slot.release();
      slot.cancel?.(`${party} joined again: this ${slot.kind} stream belongs to its previous session`);
    }
    return stale.length;
  }

  /** Open streams of a party (tests, metrics). */
  count(party: string): number {
    return this.open.get(party)?.total ?? 0;
  }
}

/** Releases `release` once the call is over, however it ends. */
export function releaseOnEnd(call: NodeJS.EventEmitter, release: () => void): void {
  for (const event of ["close", "finish", "cancelled", "error"]) call.once(event, release);
}

/**
 * Yields the call's messages, but fails with DEADLINE_EXCEEDED when none arrives for `idleMs`:
 * an upload that stalls must not hold its staging reservation (and its party's upload slot)
 * until TCP keepalive gives up.
 */
export async function* idleGuard<T>(messages: AsyncIterable<T>, idleMs: number): AsyncGenerator<T> {
  const iterator = messages[Symbol.asyncIterator]();
  for (;;) {
    let timer: NodeJS.Timeout | undefined;
    const idle = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new FederationError(grpc.status.DEADLINE_EXCEEDED, `no upload message for ${idleMs / 1000} s: upload abandoned`)), idleMs);
    });
    try {
      const next = await Promise.race([iterator.next(), idle]);
      if (next.done) return;
      yield next.value;
    } finally {
      clearTimeout(timer);
    }
  }
}

/**
 * Yields the messages until `signal` aborts, then fails with the abort's reason (a
 * FederationError): ends an upload whose phase deadline passed or whose session was superseded,
 * even while it waits for the peer's next message.
 */
export async function* untilAborted<T>(messages: AsyncIterable<T>, signal: AbortSignal): AsyncGenerator<T> {
  const iterator = messages[Symbol.asyncIterator]();
  for (;;) {
    if (signal.aborted) throw signal.reason;
    let onAbort: (() => void) | undefined;
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(signal.reason);
      signal.addEventListener("abort", onAbort, { once: true });
    });
    try {
      const next = await Promise.race([iterator.next(), aborted]);
      if (next.done) return;
      yield next.value;
    } finally {
      signal.removeEventListener("abort", onAbort!);
    }
  }
}
