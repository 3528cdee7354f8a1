/**
 * One epoch of data-parallel training, like model.fit({ epochs: 1 }): batches of `batchSize`
 * rows (the last one smaller), in the data's order or freshly shuffled, and the epoch's loss and
 * accuracy as fit reports them (the batch values averaged, weighted by batch size).
 */
import { tf } from "../tfjs.js";
import type { ParallelWasmTrainer } from "./parallel-trainer.js";

export interface EpochData {
  x: Float32Array;
  y: Float32Array;
  rows: number;
}

export interface EpochOptions {
  batchSize: number;
  shuffle: boolean;
  /** Called after each batch with its index and loss, like fit's onBatchEnd. */
  onBatchEnd?: (batch: number, loss: number) => void;
  /** Checked between batches, like fit's stopTraining: true ends the epoch early. */
  stop?: () => boolean;
  /** Seeds each batch's dropout masks (seeded training); absent: unseeded masks. */
  noiseRandom?: () => number;
}

export async function fitEpochParallel(trainer: ParallelWasmTrainer, data: EpochData, options: EpochOptions): Promise<Record<string, number>> {
  const xRow = data.x.length / data.rows;
  const yRow = data.y.length / data.rows;
  const order = Int32Array.from({ length: data.rows }, (_, i) => i);
  if (options.shuffle) tf.util.shuffle(order);
  let loss = 0;
  let correct = 0;
  let hasAccuracy = false;
  let done = 0;
  try {
    for (let start = 0, batch = 0; start < data.rows && !options.stop?.(); start += options.batchSize, batch++) {
      const rows = Math.min(options.batchSize, data.rows - start);
      const x = new Float32Array(rows * xRow);
      const y = new Float32Array(rows * yRow);
      for (let r = 0; r < rows; r++) {
        const from = order[start + r];
        x.set(data.x.subarray(from * xRow, (from + 1) * xRow), r * xRow);
        y.set(data.y.subarray(from * yRow, (from + 1) * yRow), r * yRow);
      }
      const result = await trainer.step({ x, y, rows, noiseRandom: options.noiseRandom });
      loss += result.loss * rows;
      if (result.correct !== undefined) {
        hasAccuracy = true;
        correct += result.correct;
      }
      done += rows;
      options.onBatchEnd?.(batch, result.loss);
    }
  } finally {
    // The model's weights and optimizer state, back from the workers.
    await trainer.sync();
  }
  const seen = Math.max(done, 1);
  return hasAccuracy ? { loss: loss / seen, acc: correct / seen } : { loss: loss / seen };
}
