import { encodeInto } from "../numeric-slices.js";
import { coordinateSlices, sortRange } from "../staged-slices.js";
import type { FusionStrategy, RoundInput, TrainConfig } from "../strategy.js";

/**
 * Coordinate-wise trimmed mean (Yin et al.): each weight is the unweighted mean of the parties'
 * values once the floor(beta * n) largest and as many smallest are set aside (scipy's
 * trim_mean, Flower's FedTrimmedAvg). beta in [0, 0.5).
 */
export class TrimmedMeanStrategy implements FusionStrategy {
  readonly name = "trimmed-mean";
  readonly mode = "staged";

  constructor(readonly beta: number) {
    if (!(beta >= 0 && beta < 0.5)) throw new RangeError(`trimmed-mean beta must be in [0, 0.5), got ${beta}`);
  }

  configureTrain(): TrainConfig {
    return { proximalMu: 0 };
  }

  weightOf(): number {
    return 1;
  }

  /** How many values are cut from each end of n. */
  cut(n: number): number {
    return Math.floor(this.beta * n);
  }

  async *aggregate(input: RoundInput): AsyncGenerator<Uint8Array, void, undefined> {
    const n = input.updates.length;
    const cut = this.cut(n);
    input.report.trimmed_per_side = cut;
    let out = new Float64Array(0);
    let bytes = new Uint8Array(0);
    for await (const { entry, values } of coordinateSlices(input.manifest, input.updates, input.sliceBytes)) {
      if (out.length < entry.elements) out = new Float64Array(entry.elements);
      if (bytes.byteLength < entry.bytes) bytes = new Uint8Array(entry.bytes);
      const kept = n - 2 * cut;
      for (let j = 0; j < entry.elements; j++) {
        const at = j * n;
        sortRange(values, at, n);
        let sum = 0;
        for (let u = cut; u < n - cut; u++) sum += values[at + u];
        out[j] = sum / kept;
      }
      yield encodeInto(entry.dtype, out.subarray(0, entry.elements), bytes);
    }
  }
}
