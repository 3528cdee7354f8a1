import { type UpdateStaging, WeightedSum } from "@cohort/fusion";
import { manifestByteLength } from "@cohort/tensors";
import type { ModelStore } from "./model-store.js";

/**
 * One float64 accumulator for the whole run, reset each round: its pages are faulted in once,
 * and staging allocates memory-staged updates in its arena. Its own module because both a plain
 * round (strategies that fold as updates arrive) and a secure round's unmasking fold into it.
 */
export class RoundAccumulator {
  private accumulator: WeightedSum | undefined;

  constructor(private readonly store: ModelStore, private readonly staging: UpdateStaging) {}

  /** The run's accumulator, emptied for a new round. */
  roundSum(): WeightedSum {
    const manifest = this.store.manifest!;
    if (this.accumulator?.manifest === manifest) {
      this.accumulator.reset();
    } else {
      // Memory-staged updates live in the accumulator's WebAssembly memory (an arena the size of
      // the staging budget), so the fold reads them in place. Updates staged in an earlier
      // accumulator's arena stay valid (their views keep its memory) until released.
      const sum = new WeightedSum(manifest, { arenaBytes: this.staging.memoryBudget(manifestByteLength(manifest)) });
      this.accumulator = sum;
      this.staging.allocator = (bytes) => sum.allocateStaging(bytes);
    }
    return this.accumulator;
  }
}
