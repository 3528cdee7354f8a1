import * as grpc from "@grpc/grpc-js";
import { FederationError, failedPrecondition } from "@cohort/wire";

/**
 * How long each phase of a round may take a party, in milliseconds (hyperparams.global.deadlines).
 * `download`: one download of the round's base model (the previous global model), from its
 * first request to its last byte. `train`: from the train instruction until the party's upload
 * begins (its download and local training). `upload`: from an upload's header to its trailer.
 * `evaluate`: from the evaluate instruction until the parties' reports are in. Each defaults to
 * max_timeout, which also bounds the round's whole training phase.
 */
export interface PhaseDeadlines {
  downloadMs: number;
  trainMs: number;
  uploadMs: number;
  evaluateMs: number;
}

/** A deadline missed by a party, or a refusal that drops it from the round (`cooldown`). */
export type DropPhase = "download" | "train" | "upload" | "cooldown";

export function resolveDeadlines(maxTimeoutMs: number, overrides: Partial<PhaseDeadlines> = {}): PhaseDeadlines {
  const or = (ms: number | undefined) => ms ?? maxTimeoutMs;
  return { downloadMs: or(overrides.downloadMs), trainMs: or(overrides.trainMs), uploadMs: or(overrides.uploadMs), evaluateMs: or(overrides.evaluateMs) };
}

/** A transfer bounded by a phase deadline: its signal aborts (with a FederationError) when the party misses it or is dropped. */
export interface BoundedTransfer {
  signal: AbortSignal;
  /** The transfer ended: its deadline no longer applies. */
  done(): void;
}

/**
 * The per-party deadlines of one round's training phase. A party that misses one (or is
 * dropped for another reason) is reported once through `onDrop` (the aggregator stops waiting
 * for it), its transfers for the round are aborted, and what it sends for the round later is
 * refused with FAILED_PRECONDITION naming the deadline.
 */
export class RoundDeadlines {
  private readonly dropped = new Map<string, DropPhase>();
  private readonly uploading = new Set<string>();
  private readonly transfers = new Map<string, Set<AbortController>>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private closed = false;

  constructor(
    readonly round: number,
    participants: readonly string[],
    readonly deadlines: PhaseDeadlines,
    roundTimeoutMs: number,
    /** Stops waiting for `party`; false when the round no longer waited for it (it answered or left), and nothing is recorded. */
    private readonly onDrop: (party: string, phase: DropPhase) => boolean,
  ) {
    // A train deadline at or past the round's own is the round's: no separate timer.
    if (deadlines.trainMs < roundTimeoutMs) {
      this.after(deadlines.trainMs, () => {
        for (const party of participants) if (!this.uploading.has(party)) this.drop(party, "train");
      });
    }
  }

  /** The phase whose deadline `party` missed in this round, if it was dropped. */
  droppedFor(party: string): DropPhase | undefined {
    return this.dropped.get(party);
  }

  /** Throws FAILED_PRECONDITION when `party` was dropped from this round. */
  checkNotDropped(party: string): void {
    const phase = this.dropped.get(party);
    if (phase !== undefined) throw failedPrecondition(`${party} was dropped from round ${this.round}: ${this.describe(phase)}`);
  }

  /** A download of the round's base model by a participant. */
  download(party: string): BoundedTransfer {
    this.checkNotDropped(party);
    return this.transfer(party, this.deadlines.downloadMs, "download");
  }

  /** An admitted upload of a participant: its train deadline is met; its upload deadline starts. */
  upload(party: string): BoundedTransfer {
    this.checkNotDropped(party);
    this.uploading.add(party);
    return this.transfer(party, this.deadlines.uploadMs, "upload");
  }

  /** Drops `party` from the round (a missed deadline, a cooldown); once per party, and only while the round waits for it. */
  drop(party: string, phase: DropPhase): void {
    if (this.closed || this.dropped.has(party) || !this.onDrop(party, phase)) return;
    this.dropped.set(party, phase);
    const reason = new FederationError(phase === "cooldown" ? grpc.status.RESOURCE_EXHAUSTED : grpc.status.DEADLINE_EXCEEDED, `${party} was dropped from round ${this.round}: ${this.describe(phase)}`);
    for (const controller of this.transfers.get(party) ?? []) controller.abort(reason);
    this.transfers.delete(party);
  }

  /** The round's training phase is over: no more deadlines. */
  close(): void {
    this.closed = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.transfers.clear();
  }

  describe(phase: DropPhase): string {
    if (phase === "cooldown") return "too many of its calls were refused";
    const ms = phase === "download" ? this.deadlines.downloadMs : phase === "train" ? this.deadlines.trainMs : this.deadlines.uploadMs;
    return `it missed the ${phase} deadline (${ms / 1000} s)`;
  }

  private transfer(party: string, ms: number, phase: DropPhase): BoundedTransfer {
    const controller = new AbortController();
    if (this.closed) return { signal: controller.signal, done: () => undefined };
    const mine = this.transfers.get(party) ?? new Set();
    this.transfers.set(party, mine);
    mine.add(controller);
    const timer = this.after(ms, () => this.drop(party, phase));
    return {
      signal: controller.signal,
      done: () => {
        clearTimeout(timer);
        this.timers.delete(timer);
        mine.delete(controller);
      },
    };
  }

  private after(ms: number, f: () => void): NodeJS.Timeout {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      f();
    }, ms);
    timer.unref();
    this.timers.add(timer);
    return timer;
  }
}
