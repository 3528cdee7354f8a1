import { z } from "zod";
import { ignoredKey, integer, number, oneOf, section } from "./schema-helpers.js";

/**
 * The aggregator's `fusion` section: the algorithm's name (Cohort's or IBM FL's) and its
 * parameters, plus the update bounds every strategy gets (max_update_norm).
 */

export type FusionAlgorithm =
  | "fedavg" | "iteravg" | "fedprox" | "coordinate-median" | "trimmed-mean" | "krum" | "multi-krum"
  | "fedadam" | "fedyogi" | "fedadagrad" | "fedavgm";

/** Cohort's names and IBM FL's fusion handler names, lower-cased, to the normalized algorithm. */
export const FUSION_ALIASES: Readonly<Record<string, FusionAlgorithm>> = {
  fedavg: "fedavg", fedavgfusionhandler: "fedavg",
  iteravg: "iteravg", iteravgfusionhandler: "iteravg",
  fedprox: "fedprox",
  "coordinate-median": "coordinate-median", median: "coordinate-median", coordinatemedianfusionhandler: "coordinate-median",
  "trimmed-mean": "trimmed-mean", trimmedmean: "trimmed-mean",
  krum: "krum", krumfusionhandler: "krum",
  "multi-krum": "multi-krum", multikrum: "multi-krum",
  fedadam: "fedadam", fedyogi: "fedyogi", fedadagrad: "fedadagrad", fedavgm: "fedavgm",
};

/** IBM FL handlers with no Cohort equivalent, and why (the refusal says so). */
export const UNMAPPED_IBM_FUSION: Readonly<Record<string, string>> = {
  zenofusionhandler: "Zeno scores gradients on validation data held by the aggregator, which Cohort's aggregator never has; use krum or coordinate-median",
  gradientfusionhandler: "parties send gradients there, Cohort parties send weights; use fedavg",
  pfnmfusionhandler: "neuron matching (PFNM) is not implemented",
  spahmfusionhandler: "neuron matching (SPAHM) is not implemented",
  fedplusfusionhandler: "Fed+ personalizes each party's model, which Cohort does not do",
  coordinatemedianfedplusfusionhandler: "Fed+ personalizes each party's model, which Cohort does not do; use coordinate-median",
  geometricmedianfedplusfusionhandler: "Fed+ personalizes each party's model, which Cohort does not do; use coordinate-median",
  afafusionhandler: "adaptive federated averaging (AFA: per-party reputation with slack and blocking) is not implemented; use krum, multi-krum or coordinate-median",
  comparativeeliminationfusionhandler: "comparative elimination is not implemented; use multi-krum (byzantine f), which also drops the f most distant updates",
  shuffleiteravgfusionhandler: "its parties permute their weights with a shared secret so the aggregator never sees them in order, which Cohort does not do; use iteravg over mutual TLS",
};

const EXPECTED_NAMES = `expected one of ${[...new Set(Object.values(FUSION_ALIASES))].map((n) => `"${n}"`).join(", ")} or an IBM FL name (FedAvgFusionHandler, IterAvgFusionHandler, CoordinateMedianFusionHandler, KrumFusionHandler)`;

/** The parameters each algorithm takes (any other is refused, so a typo does not go unnoticed). */
export const FUSION_PARAMETERS: Readonly<Record<FusionAlgorithm, readonly string[]>> = {
  fedavg: [], iteravg: [], fedprox: ["mu"], "coordinate-median": [],
  "trimmed-mean": ["trim_fraction"], krum: ["byzantine"], "multi-krum": ["byzantine", "keep"],
  fedadam: ["server_lr", "beta1", "beta2", "tau"], fedyogi: ["server_lr", "beta1", "beta2", "tau"], fedadagrad: ["server_lr", "beta1", "tau"],
  fedavgm: ["server_lr", "momentum"],
};

export const fusionSchema = section({
  name: z.string({ error: EXPECTED_NAMES }).superRefine((name, ctx) => {
    const key = name.toLowerCase();
    if (FUSION_ALIASES[key] !== undefined) return;
    const why = UNMAPPED_IBM_FUSION[key];
    ctx.addIssue({ code: "custom", message: why ? `expected a fusion algorithm Cohort supports (${name} has no equivalent: ${why})` : EXPECTED_NAMES });
  }),
  path: ignoredKey(),
  mu: number({ min: 0 }).optional(),
  trim_fraction: number({ min: 0, max: 0.5, exclusiveMax: true }).optional(),
  byzantine: integer(0, undefined, "parties").optional(),
  keep: integer(1, undefined, "updates").optional(),
  server_lr: number({ min: 0, exclusiveMin: true }).optional(),
  beta1: number({ min: 0, max: 1, exclusiveMax: true }).optional(),
  beta2: number({ min: 0, max: 1, exclusiveMax: true }).optional(),
  tau: number({ min: 0 }).optional(),
  momentum: number({ min: 0, max: 1, exclusiveMax: true }).optional(),
  max_update_norm: number({ min: 0, exclusiveMin: true }).optional(),
  on_large_update: oneOf(["clip", "refuse"] as const).default("clip"),
  // Losses are >= 0 for cross-entropy, MSE, MAE...; cosine_similarity, Poisson or a Gaussian NLL can be negative.
  negative_loss: oneOf(["refuse", "accept"] as const).default("refuse"),
});

export type RawFusionSection = z.output<typeof fusionSchema>;

/** The fusion section, normalized. */
export interface FusionSection {
  algorithm: FusionAlgorithm;
  /** The name as written (FedAvgFusionHandler) for the log; absent when defaulted. */
  ibmName?: string;
  /** The algorithm's parameters, in @cohort/fusion's names (beta, byzantine, keep, mu, eta, beta1, beta2, tau, momentum). */
  params?: Record<string, number>;
  maxUpdateNorm?: number;
  onLargeUpdate?: "clip" | "refuse";
  /** A negative loss in a party's report: refused (default) or accepted (a loss that can be negative). */
  negativeLoss: "refuse" | "accept";
}

const PARAM_NAMES: Readonly<Record<string, string>> = { trim_fraction: "beta", server_lr: "eta" };

/** Normalizes the section; `issue(key, message)` reports a parameter the algorithm does not take. */
export function normalizeFusion(raw: RawFusionSection | undefined, issue: (key: string, message: string) => void): FusionSection {
  if (raw === undefined) return { algorithm: "fedavg", negativeLoss: "refuse" };
  const algorithm = FUSION_ALIASES[raw.name.toLowerCase()]!;
  const out: FusionSection = { algorithm, ibmName: raw.name, negativeLoss: raw.negative_loss };
  const params: Record<string, number> = {};
  for (const key of ["mu", "trim_fraction", "byzantine", "keep", "server_lr", "beta1", "beta2", "tau", "momentum"] as const) {
    const value = raw[key];
    if (value === undefined) continue;
    if (!FUSION_PARAMETERS[algorithm].includes(key)) {
      const takes = FUSION_PARAMETERS[algorithm];
      issue(key, `${algorithm} takes no ${key}; expected ${takes.length ? `one of ${takes.join(", ")}` : "no parameters"}`);
      continue;
    }
    params[PARAM_NAMES[key] ?? key] = value;
  }
  if (Object.keys(params).length) out.params = params;
  if (raw.max_update_norm !== undefined) {
    out.maxUpdateNorm = raw.max_update_norm;
    out.onLargeUpdate = raw.on_large_update;
  }
  return out;
}
