import { integer, number } from "./schema-helpers.js";

/** Hyperparameters of one party's local training in a round (the aggregator sends them each round). */
export interface LocalHyperparams {
  epochs: number;
  batchSize: number;
  /** Caps the batches of an epoch; all of the party's data when absent. */
  stepsPerEpoch?: number;
  /** Fraction of local data held out for validation, in [0, 1). */
  validationSplit: number;
  /** Learning rate; the model spec's optimizer setting when absent. */
  lr?: number;
}

export const LOCAL_DEFAULTS = { epochs: 1, batchSize: 32, validationSplit: 0 } as const;

/** Leaf schemas under their IBM FL key names, shared by the aggregator and party configs. */
export const localKeys = {
  epochs: () => integer(1),
  batch_size: () => integer(1),
  steps_per_epoch: () => integer(1),
  validation_split: () => number({ min: 0, max: 1, exclusiveMax: true }),
  lr: () => number({ min: 0, exclusiveMin: true }),
};

/** The keys present in raw IBM-named values, renamed; used for the party's partial overrides. */
export function toLocalOverrides(raw: {
  epochs?: number | undefined;
  batch_size?: number | undefined;
  steps_per_epoch?: number | undefined;
  validation_split?: number | undefined;
  lr?: number | undefined;
}): Partial<LocalHyperparams> {
  const out: Partial<LocalHyperparams> = {};
  if (raw.epochs !== undefined) out.epochs = raw.epochs;
  if (raw.batch_size !== undefined) out.batchSize = raw.batch_size;
  if (raw.steps_per_epoch !== undefined) out.stepsPerEpoch = raw.steps_per_epoch;
  if (raw.validation_split !== undefined) out.validationSplit = raw.validation_split;
  if (raw.lr !== undefined) out.lr = raw.lr;
  return out;
}
