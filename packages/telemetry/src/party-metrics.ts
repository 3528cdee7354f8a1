import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

/** Local training time per round, in seconds: from a toy model's milliseconds to an hour on a large one. */
export const TRAIN_BUCKETS = [0.05, 0.25, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600];

/**
 * A party's Prometheus metrics, in a registry of its own (see AggregatorMetrics). The party
 * calls these where it already logs: after a join, a download, local training, an upload and
 * an evaluation.
 */
export class PartyMetrics {
  readonly registry = new Registry();
  private readonly roundsTrained: Counter;
  private readonly joined: Gauge;
  private readonly bytesUp: Counter;
  private readonly bytesDown: Counter;
  private readonly trainSeconds: Histogram;
  private readonly localMetric: Gauge<"metric">;
  private readonly evalMetric: Gauge<"metric">;
  private readonly refused: Counter;
  private readonly backendInfo: Gauge<"backend">;
  private readonly samplesPerSecond: Gauge;

  /** `processMetrics` adds prom-client's process_* and nodejs_* metrics (CPU, memory, event loop lag) for a real service. */
  constructor(options: { processMetrics?: boolean } = {}) {
    const registers = [this.registry];
    if (options.processMetrics) collectDefaultMetrics({ register: this.registry });
    this.roundsTrained = new Counter({ name: "cohort_party_rounds_trained_total", help: "Rounds whose update this party uploaded and the aggregator accepted", registers });
    this.joined = new Gauge({ name: "cohort_party_joined", help: "1 while the party has a session with the aggregator, 0 otherwise", registers });
    this.bytesUp = new Counter({ name: "cohort_party_uploaded_bytes_total", help: "Tensor bytes uploaded (updates and initial weights)", registers });
    this.bytesDown = new Counter({ name: "cohort_party_downloaded_bytes_total", help: "Tensor bytes of global models downloaded", registers });
    this.trainSeconds = new Histogram({ name: "cohort_party_train_duration_seconds", help: "Local training time per round", buckets: TRAIN_BUCKETS, registers });
    this.localMetric = new Gauge({ name: "cohort_party_local_metric", help: "Training metrics of the last local round (loss, accuracy, ...)", labelNames: ["metric"], registers });
    this.evalMetric = new Gauge({ name: "cohort_party_eval_metric", help: "This party's evaluation of the last global model on its held-out data", labelNames: ["metric"], registers });
    this.refused = new Counter({ name: "cohort_party_refused_updates_total", help: "Updates the aggregator refused", registers });
    this.backendInfo = new Gauge({ name: "cohort_party_backend_info", help: "1 for the TensorFlow.js backend this party trains on (tensorflow, wasm or cpu)", labelNames: ["backend"], registers });
    this.samplesPerSecond = new Gauge({ name: "cohort_party_training_samples_per_second", help: "Training samples per second of the last local round (all its epochs)", registers });
    this.roundsTrained.inc(0);
    this.joined.set(0);
  }

  setJoined(joined: boolean): void {
    this.joined.set(joined ? 1 : 0);
  }

  /** The backend chosen at start-up. */
  setBackend(name: string): void {
    this.backendInfo.reset();
    this.backendInfo.set({ backend: name }, 1);
  }

  downloaded(bytes: number): void {
    this.bytesDown.inc(bytes);
  }

  /** Local training of a round finished. */
  trained(seconds: number, metrics: Record<string, number>, samplesPerSecond?: number): void {
    this.trainSeconds.observe(seconds);
    if (samplesPerSecond !== undefined && Number.isFinite(samplesPerSecond)) this.samplesPerSecond.set(samplesPerSecond);
    for (const [metric, value] of Object.entries(metrics)) if (Number.isFinite(value)) this.localMetric.set({ metric }, value);
  }

  /** An upload went through; `round` 0 is the initial weights, not a trained round. */
  uploaded(bytes: number, round: number): void {
    this.bytesUp.inc(bytes);
    if (round > 0) this.roundsTrained.inc();
  }

  updateRefused(): void {
    this.refused.inc();
  }

  evaluated(metrics: Record<string, number>): void {
    for (const [metric, value] of Object.entries(metrics)) if (Number.isFinite(value)) this.evalMetric.set({ metric }, value);
  }

  async text(): Promise<string> {
    return this.registry.metrics();
  }
}
