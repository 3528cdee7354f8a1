import type { AdaptiveClipParams } from "./adaptive-clip.js";

/** hyperparams.global.differential_privacy, normalized (the config package validates and names the fields). */
export interface DifferentialPrivacySettings {
  /** central: the aggregator clips and adds N(0, z^2 C^2) to the sum; distributed: each party clips and adds its share. */
  mode: "central" | "distributed";
  /** z: the noise std over the clip norm, for the whole round's sum. */
  noiseMultiplier: number;
  /** Fixed clipping: C. Exactly one of clippingNorm and adaptiveClipping. */
  clippingNorm?: number;
  adaptiveClipping?: AdaptiveClipParams;
  /** delta of the reported (epsilon, delta). */
  delta: number;
  /** The run stops before a round that would take epsilon past this. */
  targetEpsilon?: number;
  /** q: each party's chance to be in a round (Poisson sampling); 1: every party, every round. */
  samplingRate: number;
}
