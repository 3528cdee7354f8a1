import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

/** The aggregator's phases, exported as a state set: exactly one has the value 1. */
export const AGGREGATOR_PHASES = ["starting", "waiting", "train", "fuse", "checkpoint", "evaluate", "done"] as const;
export type AggregatorPhase = (typeof AGGREGATOR_PHASES)[number];

/** Phase durations of a round, as metrics.jsonl's `ms` has them. */
export type RoundTimings = Partial<Record<"train" | "fuse" | "checkpoint" | "eval" | "round", number>>;

/**
 * Buckets for phase durations, in seconds: a fuse or checkpoint of a small model takes
 * milliseconds, a round of a large one on slow parties tens of minutes.
 */
export const PHASE_BUCKETS = [0.005, 0.025, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800];

/**
 * The aggregator's Prometheus metrics. Each instance owns its registry (never prom-client's
 * global one) so that tests, and several aggregators in one process, do not collide. The
 * aggregator calls these methods at the points where it already logs.
 */
export class AggregatorMetrics {
  readonly registry = new Registry();
  private readonly roundsCompleted: Counter;
  private readonly currentRound: Gauge;
  private readonly phase: Gauge<"phase">;
  private readonly connected: Gauge;
  private readonly contributing: Gauge;
  private readonly bytesIn: Counter;
  private readonly bytesOut: Counter;
  private readonly phaseSeconds: Histogram<"phase">;
  private readonly globalMetric: Gauge<"metric">;
  private readonly rejected: Counter<"reason">;
  private readonly dropped: Counter<"phase">;
  private readonly connectionsClosed: Counter<"reason">;
  private readonly refusedReports: Counter<"reason">;
  private readonly clipped: Counter;

  /** `processMetrics` adds prom-client's process_* and nodejs_* metrics (CPU, memory, event loop lag) for a real service. */
  constructor(options: { processMetrics?: boolean } = {}) {
    const registers = [this.registry];
    if (options.processMetrics) collectDefaultMetrics({ register: this.registry });
    this.roundsCompleted = new Counter({ name: "cohort_aggregator_rounds_completed_total", help: "Rounds whose new global model was checkpointed", registers });
    this.currentRound = new Gauge({ name: "cohort_aggregator_current_round", help: "Round in progress (or last one run); 0 before the first", registers });
    this.phase = new Gauge({ name: "cohort_aggregator_phase", help: "Current phase: 1 for the phase the aggregator is in, 0 for the others", labelNames: ["phase"], registers });
    this.connected = new Gauge({ name: "cohort_aggregator_parties_connected", help: "Parties whose instruction stream is open", registers });
    this.contributing = new Gauge({ name: "cohort_aggregator_parties_contributing", help: "Parties whose update was folded into the last completed round", registers });
    this.bytesIn = new Counter({ name: "cohort_aggregator_received_bytes_total", help: "Tensor bytes of verified uploads (updates and initial weights)", registers });
    this.bytesOut = new Counter({ name: "cohort_aggregator_sent_bytes_total", help: "Tensor bytes of global models sent to parties", registers });
    this.phaseSeconds = new Histogram({ name: "cohort_aggregator_phase_duration_seconds", help: "Duration of each phase of a round (round = the whole round)", labelNames: ["phase"], buckets: PHASE_BUCKETS, registers });
    this.globalMetric = new Gauge({ name: "cohort_aggregator_global_metric", help: "Example-weighted evaluation of the last evaluated global model (accuracy, loss, ...)", labelNames: ["metric"], registers });
    this.rejected = new Counter({ name: "cohort_aggregator_rejected_updates_total", help: "Uploads refused, by reason code", labelNames: ["reason"], registers });
    this.connectionsClosed = new Counter({ name: "cohort_aggregator_closed_connections_total", help: "Connections refused or closed before an authenticated call: per_address, total, handshake_timeout, unauthenticated_idle, tls_handshake", labelNames: ["reason"], registers });
    this.dropped = new Counter({ name: "cohort_aggregator_dropped_parties_total", help: "Parties dropped from a round's phase: a missed download, train, upload or evaluate deadline, or a cooldown", labelNames: ["phase"], registers });
    this.refusedReports = new Counter({ name: "cohort_aggregator_refused_reports_total", help: "Evaluation reports refused by the bounds (examples over the declared, metrics out of range), by reason code", labelNames: ["reason"], registers });
    this.clipped = new Counter({ name: "cohort_aggregator_clipped_updates_total", help: "Updates scaled down to fusion.max_update_norm", registers });
    this.roundsCompleted.inc(0);
    this.currentRound.set(0);
    this.connected.set(0);
    this.contributing.set(0);
    this.setPhase("starting");
  }

  setPhase(phase: AggregatorPhase): void {
    for (const p of AGGREGATOR_PHASES) this.phase.set({ phase: p }, p === phase ? 1 : 0);
  }

  roundStarted(round: number): void {
    this.currentRound.set(round);
    this.setPhase("train");
  }

  partiesConnected(count: number): void {
    this.connected.set(count);
  }

  received(bytes: number): void {
    this.bytesIn.inc(bytes);
  }

  sent(bytes: number): void {
    this.bytesOut.inc(bytes);
  }

  /** `reason` is a short code (checksum_mismatch, round_closed, ...), never free text: label values must stay few. */
  updateRejected(reason: string): void {
    this.rejected.inc({ reason });
  }

  /** An evaluation report broke a bound; `reason` is a short code (examples_over_declared, metric_out_of_range). */
  reportRefused(reason: string): void {
    this.refusedReports.inc({ reason });
  }

  /** An update was scaled down to max_update_norm. */
  updateClipped(): void {
    this.clipped.inc();
  }

  /** A connection refused or closed before it carried an authenticated call (the connection guard). */
  connectionClosed(reason: string): void {
    this.connectionsClosed.inc({ reason });
  }

  /** A party missed a phase deadline (`download`, `train`, `upload`, `evaluate`) or was dropped for a cooldown. */
  partyDropped(phase: string): void {
    this.dropped.inc({ phase });
  }

  /** A round's line of metrics.jsonl is written: count it, observe its timings, keep its evaluation. */
  roundCompleted(round: { parties: readonly string[]; eval: Record<string, number>; ms: RoundTimings }): void {
    this.roundsCompleted.inc();
    this.contributing.set(round.parties.length);
    for (const [phase, ms] of Object.entries(round.ms)) if (typeof ms === "number") this.phaseSeconds.observe({ phase }, ms / 1000);
    for (const [metric, value] of Object.entries(round.eval)) if (Number.isFinite(value)) this.globalMetric.set({ metric }, value);
  }

  /** Prometheus text exposition of every metric. */
  async text(): Promise<string> {
    return this.registry.metrics();
  }
}
