import type { Manifest } from "@cohort/tensors";
import type { FusionStrategy, ModelSlices, RoundInput, TrainConfig } from "../strategy.js";
import type { StagedBytes } from "../staging.js";
import { ClippedUpdate, updateNorm } from "../update-norm.js";
import { AdaptiveClipNorm, updateNoiseMultiplier } from "./adaptive-clip.js";
import type { DifferentialPrivacySettings } from "./dp-settings.js";
import { GaussianNoise } from "./gaussian-noise.js";

/**
 * DP-FedAvg (McMahan, Ramage, Talwar, Zhang 2018) around a sum-folding strategy: every update
 * weighs 1 (weights from reported example counts would let one party's influence, hence the
 * sensitivity, grow without bound), its change to the global model is clipped to L2 norm C, and
 * the sum gets Gaussian noise of std z*C: added here to the float64 sum (central), or by the
 * parties, N(0, z^2 C^2 / n) each, before upload (distributed; the train instruction carries
 * C and the share). The inner strategy's mean or server optimizer step is post-processing.
 */
export class DpFedAvgStrategy implements FusionStrategy {
  readonly mode = "stream";
  private readonly adaptive: AdaptiveClipNorm | undefined;
  private readonly fixedNorm: number | undefined;
  /** The noise multiplier of the update's sum (less than z's total when adaptive clipping's count takes a share). */
  readonly updateMultiplier: number;
  /** The round in progress: its clip norm and how many of its updates it left unclipped (central mode). */
  private round = { number: 0, clipNorm: 0, unclipped: 0, expected: 0 };

  constructor(private readonly inner: FusionStrategy, readonly settings: DifferentialPrivacySettings, private readonly noise = new GaussianNoise()) {
    if (inner.mode !== "stream") throw new RangeError(`differential privacy needs a fusion strategy that sums updates (fedavg, iteravg, fedprox or a server optimizer), not ${inner.name}`);
    const adaptive = settings.adaptiveClipping;
    if (adaptive && settings.mode === "distributed") throw new RangeError("adaptive clipping with distributed noise is not supported: the count of unclipped updates would reach the aggregator per party");
    this.adaptive = adaptive ? new AdaptiveClipNorm(adaptive, noise) : undefined;
    this.fixedNorm = adaptive ? undefined : settings.clippingNorm;
    if (!this.adaptive && !(this.fixedNorm! > 0)) throw new RangeError("differential privacy needs clipping_norm > 0 or adaptive_clipping");
    this.updateMultiplier = adaptive ? updateNoiseMultiplier(settings.noiseMultiplier, adaptive.clippedCountStddev) : settings.noiseMultiplier;
  }

  get name(): string {
    return this.inner.name;
  }

  /** A resumed run's clip norm (adaptive clipping), from its last metrics line. */
  restoreClipNorm(norm: number): void {
    if (this.adaptive && norm > 0 && Number.isFinite(norm)) this.adaptive.restore(norm);
  }

  /** C of the round in progress (or the last one). */
  get roundClipNorm(): number {
    return this.round.clipNorm;
  }

  /** C for the rounds to come. */
  get clipNorm(): number {
    return this.adaptive?.current ?? this.fixedNorm!;
  }

  configureTrain(round: number, participants = 1): TrainConfig {
    this.round = { number: round, clipNorm: this.clipNorm, unclipped: 0, expected: participants };
    const config = this.inner.configureTrain(round, participants);
    if (this.settings.mode !== "distributed") return config;
    return { ...config, privacy: { clipNorm: this.round.clipNorm, noiseStddev: (this.updateMultiplier * this.round.clipNorm) / Math.sqrt(Math.max(1, participants)) } };
  }

  weightOf(): number {
    return 1;
  }

  /**
   * Central mode: the update clipped to C around the round's global model (float64). `unclipped`
   * says whether it was within C; the caller counts it (countUnclipped) once the update is in the round.
   */
  async transformUpdate(manifest: Manifest, staged: StagedBytes, previous: ModelSlices): Promise<{ staged: StagedBytes; norm?: number; unclipped?: boolean }> {
    if (this.settings.mode !== "central") return { staged };
    const norm = await updateNorm(manifest, staged, previous);
    const c = this.round.clipNorm;
    if (norm <= c) return { staged, norm, unclipped: true };
    return { staged: new ClippedUpdate(manifest, staged, previous, c / norm), norm, unclipped: false };
  }

  /** One more update of the round within C (adaptive clipping's count); only updates the round keeps are counted. */
  countUnclipped(): void {
    this.round.unclipped++;
  }

  /** The noise multiplier of the round's released sum, given how many updates it holds. */
  releasedMultiplier(received: number): number {
    if (this.settings.mode === "central") return this.settings.noiseMultiplier;
    // Each party added z C / sqrt(n): with m of the n received, the sum holds sqrt(m/n) of the noise.
    const expected = Math.max(1, this.round.expected);
    return this.settings.noiseMultiplier * Math.sqrt(Math.min(received, expected) / expected);
  }

  async *aggregate(input: RoundInput): AsyncGenerator<Uint8Array, void, undefined> {
    const sum = input.sum;
    if (!sum) throw new Error(`${this.name}: the round has no sum`);
    const c = this.round.clipNorm;
    const privacy: Record<string, unknown> = { mode: this.settings.mode, clip_norm: c };
    if (this.settings.mode === "central") {
      const stddev = this.updateMultiplier * c;
      sum.perturbFloatSums((sums) => this.noise.add(sums, stddev));
      privacy.noise_stddev = stddev;
      privacy.unclipped = this.round.unclipped;
      if (this.adaptive) privacy.unclipped_fraction_noised = this.adaptive.update(this.round.unclipped, sum.count);
    }
    privacy.next_clip_norm = this.clipNorm;
    input.report.privacy = privacy;
    yield* this.inner.aggregate(input);
  }
}
