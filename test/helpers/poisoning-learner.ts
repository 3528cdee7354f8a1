import type { WeightSet } from "@cohort/tensors";
import type { LocalLearner, TrainSettings } from "@cohort/party";

/**
 * A party that follows the protocol but lies: it trains as its inner learner does, then sends
 * global + factor * (its weights - global) instead of its weights. factor -1 flips the update's
 * sign, 10 scales it, -10 does both. Evaluation and everything else pass through.
 */
export class PoisoningLearner implements LocalLearner {
  private global: WeightSet | undefined;

  constructor(private readonly inner: LocalLearner, readonly factor: number) {}

  get manifest() { return this.inner.manifest; }
  get numTrainExamples() { return this.inner.numTrainExamples; }
  get numTestExamples() { return this.inner.numTestExamples; }
  get backend() { return this.inner.backend; }
  get topology() { return this.inner.topology; }

  setWeights(weights: WeightSet): void {
    this.global = weights.map((t) => ({ ...t, data: (t.data as Float32Array).slice() }));
    this.inner.setWeights(weights);
  }

  getWeights(): WeightSet {
    const own = this.inner.getWeights();
    const global = this.global;
    if (!global) return own; // the initial weights (round 0): nothing to poison yet
    return own.map((t, i) => {
      const w = t.data as Float32Array;
      const g = global[i].data as Float32Array;
      return { ...t, data: w.map((v, j) => g[j] + this.factor * (v - g[j])) };
    });
  }

  train(settings: TrainSettings, onEpoch?: (epoch: number, metrics: Record<string, number>) => void) {
    return this.inner.train(settings, onEpoch);
  }

  evaluate() {
    return this.inner.evaluate();
  }

  stop(): void {
    this.inner.stop?.();
  }
}
