import { RdpAccountant } from "./rdp-accountant.js";

/** A round's privacy, as metrics.jsonl records it (and a resumed run reads back). */
export interface RoundPrivacy {
  epsilon: number;
  delta: number;
  /** The noise multiplier the round's released sum had (distributed mode: less when parties dropped). */
  noise_multiplier: number;
  sampling_rate: number;
  /** The clip norm the round used, and the one the next round will use (adaptive clipping). */
  clip_norm: number;
  next_clip_norm: number;
}

/**
 * The run's privacy spending: an RDP accountant fed one sampled Gaussian step per round, the
 * epsilon at the configured delta, and the budget check before a round starts.
 */
export class PrivacyLedger {
  private readonly accountant = new RdpAccountant();
  /** Epsilon of one more round at each noise multiplier asked about (the accountant's orders are costly). */
  private readonly priced = new Map<number, number>();

  constructor(readonly delta: number, readonly samplingRate: number, readonly targetEpsilon?: number) {}

  get rounds(): number {
    return this.accountant.rounds;
  }

  get epsilon(): number {
    return this.accountant.rounds === 0 ? 0 : this.accountant.epsilon(this.delta).epsilon;
  }

  /** Spends a round whose sum had noise multiplier `z`; returns the epsilon so far. */
  record(noiseMultiplier: number): number {
    this.accountant.compose({ samplingRate: this.samplingRate, noiseMultiplier });
    this.priced.clear();
    return this.epsilon;
  }

  /** Epsilon after one more round at noise multiplier `z`. */
  priceNext(noiseMultiplier: number): number {
    let epsilon = this.priced.get(noiseMultiplier);
    if (epsilon === undefined) {
      epsilon = this.accountant.ifAdded({ samplingRate: this.samplingRate, noiseMultiplier }, this.delta);
      this.priced.set(noiseMultiplier, epsilon);
    }
    return epsilon;
  }

  /** Why the next round must not run (it would pass the budget), or undefined. */
  budgetStop(round: number, noiseMultiplier: number): string | undefined {
    if (this.targetEpsilon === undefined) return undefined;
    const next = this.priceNext(noiseMultiplier);
    if (next <= this.targetEpsilon) return undefined;
    return `privacy budget: round ${round} would take epsilon to ${next.toFixed(3)} > target_epsilon ${this.targetEpsilon} (delta ${this.delta}); spent ${this.epsilon.toFixed(3)} in ${this.rounds} rounds`;
  }
}
