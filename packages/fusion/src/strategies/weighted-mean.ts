import type { FusionStrategy, RoundInput, TrainConfig } from "../strategy.js";

/**
 * FedAvg (McMahan et al.: weighted by each party's number of examples), IterAvg (IBM FL's
 * IterAvgFusionHandler: the unweighted mean) and FedProx (FedAvg's fold; its proximal term mu
 * travels to the parties, which add it to their local loss). All three fold each update into
 * the float64 WeightedSum as it arrives; the mean is the sum's own slices, so the seam adds
 * nothing to the fold's time.
 */
export class WeightedMeanStrategy implements FusionStrategy {
  readonly mode = "stream";
  constructor(readonly name: "fedavg" | "iteravg" | "fedprox", private readonly proximalMu = 0) {
    if (!(proximalMu >= 0) || !Number.isFinite(proximalMu)) throw new RangeError(`fedprox mu must be finite and >= 0, got ${proximalMu}`);
  }

  configureTrain(): TrainConfig {
    return { proximalMu: this.proximalMu };
  }

  weightOf({ numExamples }: { numExamples: number }): number {
    return this.name === "iteravg" ? 1 : numExamples;
  }

  async *aggregate(input: RoundInput): AsyncGenerator<Uint8Array, void, undefined> {
    if (!input.sum) throw new Error(`${this.name}: the round has no sum`);
    yield* input.sum.resultSlices();
  }
}
