import { randomInt } from "node:crypto";
import { type DifferentialPrivacySettings, DpFedAvgStrategy, type FusionStrategy, PrivacyLedger, type RoundPrivacy } from "@cohort/fusion";
import type { Logger } from "@cohort/telemetry";

/** Resolution of Poisson sampling's coin: q is drawn against a uniform integer below this. */
const COIN_RESOLUTION = 2 ** 32;

/** What summary.json says of a DP run. */
export interface PrivacySummary {
  mode: "central" | "distributed";
  epsilon: number;
  delta: number;
  rounds_accounted: number;
  noise_multiplier: number;
  sampling_rate: number;
  target_epsilon?: number;
  clip_norm: number;
}

/**
 * A run's differential privacy, as the aggregator's round loop meets it: the DP-FedAvg wrapper
 * around the configured strategy, the ledger that prices each round before it starts and
 * records it once its noised sum is released, and Poisson sampling of the parties (each one
 * independently with probability q, which the accountant's amplification assumes).
 */
export class RunPrivacy {
  readonly strategy: DpFedAvgStrategy;
  readonly ledger: PrivacyLedger;

  constructor(inner: FusionStrategy, readonly settings: DifferentialPrivacySettings, private readonly log: Logger) {
    this.strategy = new DpFedAvgStrategy(inner, settings);
    this.ledger = new PrivacyLedger(settings.delta, settings.samplingRate, settings.targetEpsilon);
  }

  /** Replays the rounds metrics.jsonl recorded (a resumed run): their noise multipliers and the clip norm they left. */
  restore(history: readonly { round: number; privacy?: RoundPrivacy }[]): void {
    let last: RoundPrivacy | undefined;
    for (const line of history) {
      // A line without privacy (written before DP was configured, or recovered without it) is priced at the configured z.
      this.ledger.record(line.privacy?.noise_multiplier ?? this.settings.noiseMultiplier);
      last = line.privacy ?? last;
    }
    if (last) this.strategy.restoreClipNorm(last.next_clip_norm);
    if (history.length) this.log.info({ phase: "privacy", rounds: history.length, epsilon: this.ledger.epsilon, delta: this.settings.delta }, `privacy spent before the restart: epsilon ${this.ledger.epsilon.toFixed(3)}`);
  }

  /** Why round `round` must not start (the budget), or undefined. Priced at the configured z (full participation). */
  budgetStop(round: number): string | undefined {
    return this.ledger.budgetStop(round, this.settings.noiseMultiplier);
  }

  /** The round's participants: everyone at q = 1, else each connected party with probability q (node:crypto's coin). */
  sample(connected: readonly string[]): string[] {
    const q = this.settings.samplingRate;
    if (q >= 1) return [...connected];
    return connected.filter(() => randomInt(COIN_RESOLUTION) < q * COIN_RESOLUTION);
  }

  /** Spends the round whose sum holds `received` updates; the returned record gets its next clip norm once the round's model is out. */
  record(received: number): RoundPrivacy {
    const z = this.strategy.releasedMultiplier(received);
    const epsilon = this.ledger.record(z);
    return { epsilon, delta: this.settings.delta, noise_multiplier: z, sampling_rate: this.settings.samplingRate, clip_norm: this.strategy.roundClipNorm, next_clip_norm: this.strategy.clipNorm };
  }

  /** The round's slices, after which (the strategy has run its adaptive step) `record` gets the next round's clip norm. */
  async *withNextClipNorm(slices: AsyncIterable<Uint8Array>, record: RoundPrivacy): AsyncGenerator<Uint8Array, void, undefined> {
    yield* slices;
    record.next_clip_norm = this.strategy.clipNorm;
  }

  summary(): PrivacySummary {
    return {
      mode: this.settings.mode, epsilon: this.ledger.epsilon, delta: this.settings.delta, rounds_accounted: this.ledger.rounds,
      noise_multiplier: this.settings.noiseMultiplier, sampling_rate: this.settings.samplingRate,
      ...(this.settings.targetEpsilon === undefined ? {} : { target_epsilon: this.settings.targetEpsilon }), clip_norm: this.strategy.clipNorm,
    };
  }
}
