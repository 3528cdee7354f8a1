import type { FusionStrategy } from "../strategy.js";
import { CoordinateMedianStrategy } from "./coordinate-median.js";
import { KrumStrategy } from "./krum.js";
import { type ServerOptimizerParams, ServerOptimizerStrategy } from "./server-optimizer.js";
import { TrimmedMeanStrategy } from "./trimmed-mean.js";
import { WeightedMeanStrategy } from "./weighted-mean.js";

export const FUSION_NAMES = ["fedavg", "iteravg", "fedprox", "coordinate-median", "trimmed-mean", "krum", "multi-krum", "fedadam", "fedyogi", "fedadagrad", "fedavgm"] as const;
export type FusionName = (typeof FUSION_NAMES)[number];

/** A fusion algorithm and its parameters, as the config's `fusion` section gives them (defaults applied by createStrategy). */
export interface FusionSettings extends Partial<ServerOptimizerParams> {
  name: FusionName;
  /** trimmed-mean: fraction cut from each end (default 0.1). */
  beta?: number;
  /** krum, multi-krum: Byzantine parties assumed (default 1). */
  byzantine?: number;
  /** multi-krum: updates averaged (default n - f, decided per round when absent). */
  keep?: number;
  /** fedprox: the proximal term's weight (default 0.01). */
  mu?: number;
}

export const DEFAULT_TRIM_BETA = 0.1;
export const DEFAULT_BYZANTINE = 1;
export const DEFAULT_PROXIMAL_MU = 0.01;

/** The strategy a run uses; throws a RangeError naming the parameter when one is out of range. */
export function createStrategy(settings: FusionSettings): FusionStrategy {
  const { name } = settings;
  switch (name) {
    case "fedavg":
    case "iteravg":
      return new WeightedMeanStrategy(name);
    case "fedprox":
      return new WeightedMeanStrategy(name, settings.mu ?? DEFAULT_PROXIMAL_MU);
    case "coordinate-median":
      return new CoordinateMedianStrategy();
    case "trimmed-mean":
      return new TrimmedMeanStrategy(settings.beta ?? DEFAULT_TRIM_BETA);
    case "krum":
      return new KrumStrategy(settings.byzantine ?? DEFAULT_BYZANTINE, 1);
    case "multi-krum":
      return new KrumStrategy(settings.byzantine ?? DEFAULT_BYZANTINE, settings.keep);
    case "fedadam":
    case "fedyogi":
    case "fedadagrad":
    case "fedavgm": {
      const params: Partial<ServerOptimizerParams> = {};
      for (const key of ["eta", "beta1", "beta2", "tau", "momentum"] as const) if (settings[key] !== undefined) params[key] = settings[key];
      return new ServerOptimizerStrategy(name, params);
    }
  }
}
