import { GaussianNoise, decodeInto, encodeInto, isFloat } from "@cohort/fusion";
import { type DType, type NamedTensor, type TypedArray, type WeightSet, bytesPerElement, tensorBytes, viewAs } from "@cohort/tensors";

/** What the aggregator asks of a party's update under distributed DP (the train instruction carries it). */
export interface PrivacyShare {
  /** C: the update's L2 norm is scaled down to at most this. */
  clipNorm: number;
  /** This party's share of the round's noise: N(0, noiseStddev^2) per coordinate (z C / sqrt(n)). */
  noiseStddev: number;
}

/**
 * DP-FedAvg's party side (McMahan et al. 2018), a pure function: the update (trained minus
 * global weights, in float64) is scaled to L2 norm at most C over all floating-point tensors,
 * this party's share of Gaussian noise is added, and the result goes back as global + update
 * in the tensors' own dtypes. Non-float tensors (counters) are sent as the global model has
 * them: they would carry information the noise does not cover. Runs before any masking of
 * secure aggregation, which then only ever sees noised updates.
 */
export function privatizeUpdate(trained: WeightSet, global: WeightSet, share: PrivacyShare, noise: GaussianNoise = new GaussianNoise()): { weights: WeightSet; norm: number; clipped: boolean } {
  if (!(share.clipNorm > 0) || !Number.isFinite(share.clipNorm)) throw new RangeError(`clip norm must be positive and finite, got ${share.clipNorm}`);
  if (trained.length !== global.length) throw new RangeError(`the update has ${trained.length} tensors, the global model ${global.length}`);
  const deltas = trained.map((t, i) => {
    const g = global[i];
    if (g.name !== t.name || g.data.length !== t.data.length) throw new RangeError(`tensor ${i} (${t.name}) does not match the global model's (${g.name})`);
    if (!isFloat(t.dtype)) return undefined;
    const delta = float64Of(t);
    const base = float64Of(g);
    for (let j = 0; j < delta.length; j++) delta[j] -= base[j];
    return { delta, base };
  });
  let squares = 0;
  for (const d of deltas) if (d) for (const v of d.delta) squares += v * v;
  const norm = Math.sqrt(squares);
  const scale = norm > share.clipNorm ? share.clipNorm / norm : 1;
  const weights = trained.map((t, i) => {
    const d = deltas[i];
    if (!d) return { ...global[i], shape: [...t.shape], data: global[i].data.slice() };
    const out = d.delta;
    for (let j = 0; j < out.length; j++) out[j] *= scale;
    noise.add(out, share.noiseStddev);
    for (let j = 0; j < out.length; j++) out[j] += d.base[j];
    return { name: t.name, dtype: t.dtype, shape: [...t.shape], data: typedOf(t.dtype, out) };
  });
  return { weights, norm, clipped: scale < 1 };
}

function float64Of(t: NamedTensor): Float64Array {
  const out = new Float64Array(t.data.length);
  decodeInto(t.dtype, tensorBytes(t), out);
  return out;
}

function typedOf(dtype: DType, values: Float64Array): TypedArray {
  return viewAs(dtype, encodeInto(dtype, values, new Uint8Array(values.length * bytesPerElement(dtype))));
}

/**
 * The party's hook: the trained weights as they go out, privatized when the train instruction
 * asks for distributed DP (dp_clip_norm > 0), else unchanged; `log` hears the norm when it does.
 */
export function privateUpdate(trained: WeightSet, global: WeightSet, asked: { dpClipNorm?: number; dpNoiseStddev?: number }, log: (fields: Record<string, number | boolean>) => void): WeightSet {
  if (!asked.dpClipNorm) return trained;
  const share = { clipNorm: asked.dpClipNorm, noiseStddev: asked.dpNoiseStddev ?? 0 };
  const { weights, norm, clipped } = privatizeUpdate(trained, global, share);
  log({ norm, clipped, clip_norm: share.clipNorm, noise_stddev: share.noiseStddev });
  return weights;
}
