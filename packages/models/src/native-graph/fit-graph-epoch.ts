/**
 * One epoch of training through a GraphTrainingStep, like model.fit({ epochs: 1 }): batches of
 * `batchSize` rows (the last one smaller) in the data's order or freshly shuffled (Math.random,
 * as fit), the last `validationSplit` of the rows held out and evaluated at the end, each one graph run for loss and gradients and one model.optimizer.applyGradients (on
 * the tensorflow backend Cohort's optimizers step through TensorFlow's fused training ops), and
 * the epoch's loss and accuracy as fit reports them (batch values averaged, weighted by rows).
 */
import { evaluateModel } from "../evaluate.js";
import { drawNoiseSeeds } from "../noise-seeds.js";
import { type LayersModel, tf } from "../tfjs.js";
import type { EpochOptions } from "../wasm-parallel/fit-epoch.js";
import type { GraphTrainingStep } from "./graph-step.js";

/** The data-parallel epoch's options (absent `noiseRandom`: Math.random), and fit's validation split. */
export interface GraphEpochOptions extends EpochOptions {
  /**
   * fit's validation_split: the last fraction of the rows (before shuffling) is held out and
   * evaluated after the epoch, reported as val_loss, val_acc, ...
   */
  validationSplit?: number;
}

export async function fitEpochGraph(step: GraphTrainingStep, model: LayersModel, x: tf.Tensor, y: tf.Tensor, options: GraphEpochOptions): Promise<Record<string, number>> {
  const all = x.shape[0]!;
  const rows = options.validationSplit ? Math.floor(all * (1 - options.validationSplit)) : all;
  const order = options.shuffle ? shuffled(rows) : undefined;
  const names = model.trainableWeights.map((w) => (w.read() as tf.Variable).name);
  const accuracyName = model.metricsNames.find((n) => n === "acc" || n === "accuracy");
  const random = options.noiseRandom ?? Math.random;
  let loss = 0;
  let correct = 0;
  let done = 0;
  for (let start = 0, batch = 0; start < rows && !options.stop?.(); start += options.batchSize, batch++) {
    const size = Math.min(options.batchSize, rows - start);
    const [xb, yb] = tf.tidy(() => {
      if (!order) return [tf.slice(x, start, size), tf.slice(y, start, size)];
      const indices = tf.tensor1d(order.subarray(start, start + size), "int32");
      return [tf.gather(x, indices), tf.gather(y, indices)];
    });
    // One seed per Dropout layer and batch, drawn like reseedNoise does for fit.
    const seeds = drawNoiseSeeds(step.dropouts, random).map((seed, k): [number, number] => [seed | 0, k]);
    const result = step.run(xb!, yb!, seeds);
    try {
      tf.tidy(() => model.optimizer.applyGradients(Object.fromEntries(names.map((name, k) => [name, result.grads[k]!]))));
      const batchLoss = result.loss.dataSync()[0]!;
      loss += batchLoss * size;
      if (result.correct) correct += result.correct.dataSync()[0]!;
      done += size;
      options.onBatchEnd?.(batch, batchLoss);
    } finally {
      tf.dispose([xb!, yb!, result.loss, ...(result.correct ? [result.correct] : []), ...result.grads]);
    }
    // Lets the event loop run between batches (a stop request, gRPC keepalives), as fit's awaits do.
    await new Promise((resolve) => setImmediate(resolve));
  }
  const seen = Math.max(done, 1);
  const logs: Record<string, number> = accuracyName ? { loss: loss / seen, [accuracyName]: correct / seen } : { loss: loss / seen };
  if (rows < all && !options.stop?.()) Object.assign(logs, await validation(model, x, y, rows, options.batchSize));
  return logs;
}

/** The held-out rows [from, end) evaluated as fit's validation does: val_ + each of metricsNames. */
async function validation(model: LayersModel, x: tf.Tensor, y: tf.Tensor, from: number, batchSize: number): Promise<Record<string, number>> {
  const [xv, yv] = tf.tidy(() => [tf.slice(x, from), tf.slice(y, from)]);
  try {
    const values = await evaluateModel(model, xv!, yv!, batchSize);
    return Object.fromEntries(model.metricsNames.map((name, k) => [`val_${name}`, values[k]!]));
  } finally {
    tf.dispose([xv!, yv!]);
  }
}

function shuffled(rows: number): Int32Array {
  const order = Int32Array.from({ length: rows }, (_, i) => i);
  tf.util.shuffle(order);
  return order;
}
