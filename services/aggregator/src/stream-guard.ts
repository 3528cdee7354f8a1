import * as grpc from "@grpc/grpc-js";
import { FederationError, resourceExhausted } from "@cohort/wire";
import type { AggregatorLimits } from "./limits.js";

export type StreamKind = "instructions" | "download" | "upload";

/**
 * Counts each party's open streams so that one party (or a stolen token) cannot pin the
 * aggregator's memory and file handles with thousands of idle calls. A party's newest
 * instruction stream replaces its older one in the count: after a network cut the old stream
 * may linger until keepalive notices, and the party must still be able to come back.
 */
export class StreamQuota {
  private readonly open = new Map<string, { total: number; uploads: number }>();
  private readonly instructionSlots = new Map<string, () => void>();

  constructor(private readonly limits: AggregatorLimits) {}

  /** Takes a slot for a stream or throws RESOURCE_EXHAUSTED; the returned release is idempotent. */
  acquire(party: string, kind: StreamKind): () => void {
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
    const release = () => {
      if (released) return;
      released = true;
      counts.total--;
      if (kind === "upload") counts.uploads--;
      if (counts.total === 0) this.open.delete(party);
      if (kind === "instructions" && this.instructionSlots.get(party) === release) this.instructionSlots.delete(party);
    };
    if (kind === "instructions") this.instructionSlots.set(party, release);
    return release;
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
