import type { Manifest, WeightSet } from "@cohort/tensors";
import type { LocalLearner, TrainSettings } from "@cohort/party";

/**
 * A learner whose "training" adds a fixed per-party offset to every weight, so the aggregate
 * of a round is known exactly: global + example-weighted mean of the offsets. It exercises
 * the protocol (join, download, upload, fusion) without the cost of a neural network.
 */
export class ArithmeticLearner implements LocalLearner {
  readonly backend = "arithmetic";
  /** Evaluation reports count 10 examples, declared at join (the aggregator bounds reports by it). */
  readonly numTestExamples = 10;
  private weights: WeightSet;
  trainedRounds = 0;
  /** Called after local training, before the upload (lets a test kill the party mid-upload). */
  beforeUpload?: () => void;

  constructor(readonly manifest: Manifest, readonly numTrainExamples: number, readonly offset: number, initial = 0) {
    this.weights = manifest.tensors.map((t) => ({ ...t, data: new Float32Array(t.shape.reduce((a, b) => a * b, 1)).fill(initial) }));
  }

  getWeights(): WeightSet {
    return this.weights.map((t) => ({ ...t, data: (t.data as Float32Array).slice() }));
  }

  setWeights(weights: WeightSet): void {
    this.weights = weights.map((t) => ({ ...t, data: (t.data as Float32Array).slice() }));
  }

  /** Milliseconds "training" round n (1, 2, ...) takes before the offset is added: stragglers, paced parties. */
  trainDelayMs: (round: number) => number = () => 0;

  async train(_settings: TrainSettings) {
    const delay = this.trainDelayMs(this.trainedRounds + 1);
    if (delay > 0) await new Promise((r) => setTimeout(r, delay));
    for (const t of this.weights) {
      const data = t.data as Float32Array;
      for (let i = 0; i < data.length; i++) data[i] += this.offset;
    }
    this.trainedRounds++;
    this.beforeUpload?.();
    return { numExamples: this.numTrainExamples, metrics: { loss: 1 / (1 + this.trainedRounds) }, seconds: 0 };
  }

  async evaluate() {
    // `probe` (a metric without a range) is the global model's first weight, so a test can read the aggregate in metrics.jsonl.
    return { numExamples: this.numTestExamples, metrics: { probe: this.weights[0].data[0] as number, loss: 0 } };
  }
}
