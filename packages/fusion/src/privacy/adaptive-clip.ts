import type { GaussianNoise } from "./gaussian-noise.js";

/**
 * Adaptive clipping (Andrew, Thakkar, McMahan, Ramaswamy 2021, "Differentially Private Learning
 * with Adaptive Clipping"): after each round the clip norm C moves geometrically toward the
 * target quantile gamma of the update norms, C <- C * exp(-eta * (b - gamma)), where b is the
 * fraction of updates that were not clipped, itself privatised: (sum of indicators + N(0,
 * sigma_b^2)) / n. The estimate spends privacy too: with a total noise multiplier z, the update's
 * sum gets z_delta = (z^-2 - (2 sigma_b)^-2)^(-1/2) so that the two queries together cost what
 * one Gaussian query of multiplier z does (their Theorem 1).
 */
export interface AdaptiveClipParams {
  /** gamma: the quantile of update norms the clip norm tracks (0.5: the median). */
  targetQuantile: number;
  /** eta: the geometric step (0.2 in the paper). */
  learningRate: number;
  /** C at round 1. */
  initialNorm: number;
  /** sigma_b: the noise std of the count of unclipped updates (the paper: the expected number of parties / 20). */
  clippedCountStddev: number;
}

/** The update's noise multiplier that leaves the total at `noiseMultiplier` once the count query takes its share. */
export function updateNoiseMultiplier(noiseMultiplier: number, clippedCountStddev: number): number {
  const share = (2 * clippedCountStddev) ** -2;
  const rest = noiseMultiplier ** -2 - share;
  if (!(rest > 0)) {
    throw new RangeError(`clipped_count_stddev ${clippedCountStddev} leaves no privacy for the update at noise_multiplier ${noiseMultiplier}: expected clipped_count_stddev > ${(noiseMultiplier / 2).toPrecision(4)} (noise_multiplier / 2)`);
  }
  return rest ** -0.5;
}

/** The clip norm of the rounds to come, updated from each round's privatised count of unclipped updates. */
export class AdaptiveClipNorm {
  private norm: number;

  constructor(private readonly params: AdaptiveClipParams, private readonly noise: GaussianNoise) {
    this.norm = params.initialNorm;
  }

  /** Continues from a norm a resumed run recorded. */
  restore(norm: number): void {
    this.norm = norm;
  }

  get current(): number {
    return this.norm;
  }

  /**
   * The round's update: `unclipped` of `count` updates had norms within the clip norm. Returns
   * the privatised fraction the step used (logged; it may leave [0, 1] by the noise).
   */
  update(unclipped: number, count: number): number {
    if (count <= 0) return NaN;
    const noisy = unclipped + this.noise.fill(new Float64Array(1), this.params.clippedCountStddev)[0];
    const fraction = noisy / count;
    this.norm *= Math.exp(-this.params.learningRate * (fraction - this.params.targetQuantile));
    return fraction;
  }
}
