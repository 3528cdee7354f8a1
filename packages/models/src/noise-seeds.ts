/**
 * Dropout seeds for each batch. tfjs-layers' Dropout (and SpatialDropout1D, its subclass) draws
 * its mask from its `seed`, or from Math.random when it has none; a fixed seed draws the same mask
 * every step. So the learner gives every such layer a fresh seed from a generator before each
 * batch: a seeded learner's (the same seed then gives the same masks, run after run), or one
 * seeded by the layers' own seeds (as Keras' Dropout(seed=s) draws a new mask each step).
 * GaussianNoise, GaussianDropout and AlphaDropout take no seed in tfjs-layers and stay unseeded.
 */
import { type LayersModel, tfl } from "./tfjs.js";

/** A layer whose training-time mask tfjs-layers draws from `seed`. */
export interface SeededNoiseLayer {
  seed?: number;
}

const DROPOUT = tfl.layers.dropout({ rate: 0.5 }).constructor as abstract new (...args: never[]) => tfl.layers.Layer;

/** The model's Dropout layers (SpatialDropout1D included), nested models searched too, in layer order. */
export function seededNoiseLayers(model: LayersModel): SeededNoiseLayer[] {
  const found: SeededNoiseLayer[] = [];
  const visit = (layers: tfl.layers.Layer[]) => {
    for (const layer of layers) {
      if (layer instanceof DROPOUT) found.push(layer as unknown as SeededNoiseLayer);
      const nested = (layer as unknown as { layers?: tfl.layers.Layer[] }).layers;
      if (Array.isArray(nested)) visit(nested);
    }
  };
  visit(model.layers);
  return found;
}

/** A seed tfjs honours: a nonzero 32-bit integer (it takes 0 for "unseeded"). */
export function noiseSeed(random: () => number): number {
  return 1 + Math.floor(random() * 0xfffffffe);
}

/** The next `count` seeds from `random`: one batch's, one per Dropout layer (the workers' and the graph's too). */
export function drawNoiseSeeds(count: number, random: () => number): number[] {
  return Array.from({ length: count }, () => noiseSeed(random));
}

/** Gives each layer the next seed from `random`; call before every training batch. */
export function reseedNoise(layers: SeededNoiseLayer[], random: () => number): void {
  setNoiseSeeds(layers, drawNoiseSeeds(layers.length, random));
}

/** Gives each layer its seed from `seeds` (same order as seededNoiseLayers); undefined: unseeded. */
export function setNoiseSeeds(layers: SeededNoiseLayer[], seeds: ReadonlyArray<number | undefined>): void {
  layers.forEach((layer, k) => { layer.seed = seeds[k]; });
}
