/** Why a collection closed: everyone expected answered, or the deadline passed first. */
export type CloseReason = "complete" | "deadline" | "cancelled";

export interface Collected<T> {
  results: Map<string, T>;
  missing: string[];
  /** Of `missing`, those still awaited when the deadline closed the collection (not those that left). */
  late: string[];
  reason: CloseReason;
}

/**
 * Gathers one answer per expected party for a phase of a round (updates, evaluations). It
 * closes when every party still expected has answered, or at the deadline. A party that
 * disconnects is no longer waited for; an answer from a party not expected is refused.
 */
export class Collector<T> {
  private readonly results = new Map<string, T>();
  private readonly pending: Set<string>;
  private readonly gone = new Set<string>();
  private readonly timer: NodeJS.Timeout;
  private resolve!: (value: Collected<T>) => void;
  private done = false;
  readonly closed: Promise<Collected<T>>;

  constructor(readonly round: number, expected: Iterable<string>, deadlineMs: number) {
    this.pending = new Set(expected);
    this.closed = new Promise((resolve) => { this.resolve = resolve; });
    this.timer = setTimeout(() => this.close("deadline"), deadlineMs);
    this.timer.unref();
    if (this.pending.size === 0) this.close("complete");
  }

  get isOpen(): boolean {
    return !this.done;
  }

  isExpected(party: string): boolean {
    return this.pending.has(party);
  }

  hasAnswered(party: string): boolean {
    return this.results.has(party);
  }

  get answered(): number {
    return this.results.size;
  }

  /** Records a party's answer; false when the collection is closed or the party was not expected. */
  submit(party: string, value: T): boolean {
    if (this.done || !this.pending.has(party)) return false;
    this.pending.delete(party);
    this.results.set(party, value);
    if (this.pending.size === 0) this.close("complete");
    return true;
  }

  /** The party left (its stream closed): stop waiting for it. */
  drop(party: string): void {
    if (this.done || !this.pending.delete(party)) return;
    this.gone.add(party);
    if (this.pending.size === 0) this.close("complete");
  }

  close(reason: CloseReason): void {
    if (this.done) return;
    this.done = true;
    clearTimeout(this.timer);
    this.resolve({ results: this.results, missing: [...this.pending, ...this.gone], late: reason === "deadline" ? [...this.pending] : [], reason });
  }
}
