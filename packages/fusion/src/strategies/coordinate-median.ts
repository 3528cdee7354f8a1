import { encodeInto } from "../numeric-slices.js";
import { coordinateSlices, sortRange } from "../staged-slices.js";
import type { FusionStrategy, RoundInput, TrainConfig } from "../strategy.js";

/**
 * Coordinate-wise median (Yin et al., "Byzantine-Robust Distributed Learning: Towards Optimal
 * Statistical Rates"; IBM FL's CoordinateMedianFusionHandler): each weight is the median of the
 * parties' values, unweighted; with an even count, the mean of the middle two (numpy's median).
 * A minority of parties, whatever they send, cannot move a weight outside the honest values.
 */
export class CoordinateMedianStrategy implements FusionStrategy {
  readonly name = "coordinate-median";
  readonly mode = "staged";

  configureTrain(): TrainConfig {
    return { proximalMu: 0 };
  }

  weightOf(): number {
    return 1;
  }

  async *aggregate(input: RoundInput): AsyncGenerator<Uint8Array, void, undefined> {
    let out = new Float64Array(0);
    let bytes = new Uint8Array(0);
    for await (const { entry, n, values } of coordinateSlices(input.manifest, input.updates, input.sliceBytes)) {
      if (out.length < entry.elements) out = new Float64Array(entry.elements);
      if (bytes.byteLength < entry.bytes) bytes = new Uint8Array(entry.bytes);
      const half = n >> 1;
      for (let j = 0; j < entry.elements; j++) {
        const at = j * n;
        sortRange(values, at, n);
        out[j] = n % 2 === 1 ? values[at + half] : (values[at + half - 1] + values[at + half]) / 2;
      }
      yield encodeInto(entry.dtype, out.subarray(0, entry.elements), bytes);
    }
  }
}
