import { type Dataset, type Random, type Split, checkInputShape, mulberry32, validateLabels } from "@cohort/data";
import { GraphTrainingStep, type LayersModel, ParallelWasmTrainer, type SeededNoiseLayer, evaluateModel, fitEpochGraph, fitEpochParallel, getWeights, modelManifest, reseedNoise, seededNoiseLayers, setLearningRate, setNoiseSeeds, setWeights, tf } from "@cohort/models";
import type { Manifest, WeightSet } from "@cohort/tensors";
import type { EvaluateResult, LocalLearner, TrainResult, TrainSettings } from "./learner.js";
import { ProximalTerm } from "./proximal-term.js";

/** Batch size used for evaluation: large batches are faster and need no gradients. */
const EVAL_BATCH = 256;
/** The proximal step's learning rate when the model's optimizer exposes none (and the round sets none). */
const DEFAULT_PROXIMAL_LR = 0.01;

export interface LearnerOptions {
  /** false: batches in the data's order, every epoch. */
  shuffle?: boolean;
  /** Seeds the epochs' shuffling and the Dropout layers' masks (32-bit integer); absent: unseeded. */
  seed?: number;
}

/** Called after each training batch, for a terminal progress line (costs a sync per batch). */
export type BatchProgress = (step: { epoch: number; epochs: number; batch: number; batches: number; loss: number | undefined }) => void;

/**
 * A TF.js layers model trained with model.fit on the party's local data. The data are checked
 * against the model at construction (input shape, label range), before the party joins.
 */
export class TfjsLearner implements LocalLearner {
  readonly manifest: Manifest;
  readonly numTrainExamples: number;
  readonly numTestExamples: number;
  readonly topology: string;
  private readonly train_: { x: tf.Tensor; y: tf.Tensor };
  private readonly test: { x: tf.Tensor; y: tf.Tensor } | undefined;
  private stopping = false;
  private parallel: ParallelWasmTrainer | undefined;
  /** The training split as arrays, read once for the worker threads. */
  private trainArrays: { x: Float32Array; y: Float32Array } | undefined;
  /** Orders each epoch's batches when a seed is given (fit's own shuffling draws from Math.random, which cannot be seeded). */
  private readonly random: Random | undefined;
  /** Dropout layers, given fresh seeds from `noiseRandom` before each batch. */
  private readonly noiseLayers: SeededNoiseLayer[];
  /** Their seeds as loaded, put back after each round so that exports keep the model's own config. */
  private readonly loadedNoiseSeeds: Array<number | undefined>;
  /** Draws each batch's dropout seeds: the learner's seed, else the layers' own seeds, else unseeded. */
  private readonly noiseRandom: Random;
  /** The tensorflow backend's graph training step, or why the model trains with fit; built on first use (a learner that only evaluates never builds it). */
  private graph_: GraphTrainingStep | string | undefined;

  /**
   * `shuffle: false` feeds batches in the data's order (`cohort model train --no-shuffle`: reproducible runs).
   * `seed` shuffles every epoch (and draws steps_per_epoch samples and each batch's dropout masks)
   * from a seeded generator instead: the same seed, data and starting weights give the same batches
   * and masks, hence the same weights on a deterministic backend.
   */
  constructor(private readonly model: LayersModel, dataset: Dataset, readonly backend: string, where: string, private readonly onBatch?: BatchProgress, private readonly options: LearnerOptions = {}) {
    if (options.seed !== undefined) this.random = mulberry32(options.seed);
    // tfjs-layers draws every mask of a Dropout with its own `seed` from that one seed: the same
    // mask each step. Keras' Dropout(seed=s) draws a new mask each step from a generator seeded
    // with s. So the learner reseeds every batch, from a generator seeded by the layers' own
    // seeds when the learner has none.
    this.noiseLayers = seededNoiseLayers(model);
    this.loadedNoiseSeeds = this.noiseLayers.map((l) => l.seed);
    const own = this.loadedNoiseSeeds.filter((seed): seed is number => !!seed);
    this.noiseRandom = this.random ?? (own.length > 0 ? mulberry32(own.reduce((h, seed) => Math.imul(h ^ seed, 0x9e3779b1) >>> 0, 0x2545f491)) : Math.random);
    this.manifest = modelManifest(model);
    this.topology = JSON.stringify(model.toJSON(undefined, false));
    const inputShape = model.inputs[0].shape;
    const outputs = model.outputs[0].shape[model.outputs[0].shape.length - 1] ?? 1;
    const oneHot = usesOneHotLabels(model);
    const prepare = (split: Split, name: string) => {
      checkInputShape(split, inputShape, `${where} (${name})`);
      if (split.y instanceof Int32Array && outputs > 1) validateLabels(split, outputs, `${where} (${name})`);
      const x = tf.tensor(split.x, split.xShape, "float32");
      const y = split.y instanceof Int32Array && oneHot
        ? tf.tidy(() => tf.cast(tf.oneHot(tf.tensor1d(split.y as Int32Array, "int32"), outputs), "float32"))
        : tf.tensor(split.y, split.yShape, "float32");
      return { x, y };
    };
    this.numTrainExamples = dataset.train.xShape[0];
    this.numTestExamples = dataset.test.xShape[0];
    this.train_ = prepare(dataset.train, "train");
    this.test = dataset.test.xShape[0] > 0 ? prepare(dataset.test, "test") : undefined;
  }

  private get graph(): GraphTrainingStep | string {
    this.graph_ ??= this.backend === "tensorflow" ? GraphTrainingStep.create(this.model) : `graph training is for the tensorflow backend, not ${this.backend}`;
    return this.graph_;
  }

  /**
   * Whether rounds train through one TensorFlow graph per batch (the tensorflow backend, a model
   * whose layers and loss the graph trainer supports), or why not.
   */
  get graphTraining(): { enabled: boolean; reason?: string } {
    return typeof this.graph === "string" ? { enabled: false, reason: this.graph } : { enabled: true };
  }

  getWeights(): WeightSet {
    return getWeights(this.model);
  }

  setWeights(weights: WeightSet): void {
    setWeights(this.model, weights);
  }

  /**
   * Trains on `threads` wasm backends in worker threads (each computes the gradient of a slice of
   * every batch and steps the optimizer on its stretch of the weights). Resolves to the threads in
   * use and, when that is 1, why: one requested, or a model the workers cannot train (the learner
   * then keeps training with model.fit on this thread); `optimizerOnMainThread` says why an
   * optimizer the workers cannot step (a custom one, clipnorm) steps on this thread instead.
   */
  async useWasmThreads(threads: number): Promise<{ threads: number; reason?: string; optimizerOnMainThread?: string }> {
    if (this.backend !== "wasm") return { threads: 1, reason: `worker threads are for the wasm backend, not ${this.backend}` };
    if (threads <= 1) return { threads: 1, reason: "one thread requested" };
    await this.parallel?.close();
    this.parallel = undefined;
    try {
      this.parallel = await ParallelWasmTrainer.start(this.model, threads);
      const why = this.parallel.optimizerOnMainThread;
      return why ? { threads, optimizerOnMainThread: why } : { threads };
    } catch (err) {
      return { threads: 1, reason: err instanceof Error ? err.message : String(err) };
    }
  }

  /** Ends the worker threads, if any (they do not keep the process alive on their own). */
  async close(): Promise<void> {
    await this.parallel?.close();
    this.parallel = undefined;
    if (this.graph_ !== undefined && typeof this.graph_ !== "string") this.graph_.dispose();
    this.graph_ = "the learner is closed";
  }

  async train(settings: TrainSettings, onEpoch?: (epoch: number, metrics: Record<string, number>) => void): Promise<TrainResult> {
    const started = performance.now();
    if (settings.lr !== undefined) setLearningRate(this.model, settings.lr);
    let last: Record<string, number> = {};
    let seen = 0;
    // FedProx: the weights set for this round (the global model) anchor the proximal term.
    const proximal = settings.proximalMu ? new ProximalTerm(this.model, settings.proximalMu, settings.lr ?? DEFAULT_PROXIMAL_LR) : undefined;
    let trained = 0;
    const graph = this.graph;
    try {
      for (let epoch = 0; epoch < settings.epochs && !this.stopping; epoch++) {
        // steps_per_epoch caps an epoch at that many batches of a fresh random sample.
        const { x, y, count } = this.epochSample(settings);
        try {
          const batches = Math.ceil(Math.floor(count * (1 - (settings.validationSplit ?? 0))) / settings.batchSize);
          const onBatch = this.onBatch;
          const noiseRandom = this.noiseLayers.length > 0 ? this.noiseRandom : undefined;
          const callbacks = onBatch || proximal || noiseRandom
            ? {
              onBatchBegin: noiseRandom ? () => reseedNoise(this.noiseLayers, noiseRandom) : undefined,
              onBatchEnd: (batch: number, logs?: Record<string, number>) => {
                proximal?.step();
                onBatch?.({ epoch: epoch + 1, epochs: settings.epochs, batch: batch + 1, batches, loss: logs?.loss });
              },
            }
            : undefined;
          // validation_split needs fit's held-out evaluation, FedProx its per-batch step: such rounds train on this thread.
          if (this.parallel && !settings.validationSplit && !proximal) {
            const arrays = x === this.train_.x ? (this.trainArrays ??= tensorArrays(x, y)) : tensorArrays(x, y);
            const logs = await fitEpochParallel(this.parallel, { ...arrays, rows: count }, {
              batchSize: settings.batchSize, shuffle: this.fitShuffles,
              onBatchEnd: (batch, loss) => onBatch?.({ epoch: epoch + 1, epochs: settings.epochs, batch: batch + 1, batches, loss }),
              stop: () => this.stopping,
              noiseRandom,
            });
            last = Object.fromEntries(Object.entries(logs).map(([k, v]) => [metricName(k), v]));
          } else if (typeof graph !== "string") {
            // One TensorFlow graph run per batch; FedProx's step and the progress line after each.
            const logs = await fitEpochGraph(graph, this.model, x, y, {
              batchSize: settings.batchSize, shuffle: this.fitShuffles, validationSplit: settings.validationSplit,
              onBatchEnd: (batch, loss) => {
                proximal?.step();
                onBatch?.({ epoch: epoch + 1, epochs: settings.epochs, batch: batch + 1, batches, loss });
              },
              stop: () => this.stopping,
              noiseRandom,
            });
            last = Object.fromEntries(Object.entries(logs).map(([k, v]) => [metricName(k), v]));
          } else {
            const history = await this.model.fit(x, y, { epochs: 1, batchSize: settings.batchSize, validationSplit: settings.validationSplit, shuffle: this.fitShuffles, verbose: 0, callbacks });
            last = Object.fromEntries(Object.entries(history.history).map(([k, v]) => [metricName(k), Number(v[v.length - 1])]));
          }
          seen = count;
          trained += Math.floor(count * (1 - (settings.validationSplit ?? 0)));
          onEpoch?.(epoch + 1, last);
        } finally {
          if (x !== this.train_.x) tf.dispose([x, y]);
        }
      }
    } finally {
      proximal?.dispose();
      setNoiseSeeds(this.noiseLayers, this.loadedNoiseSeeds);
    }
    const seconds = (performance.now() - started) / 1000;
    return { numExamples: seen, metrics: last, seconds, samplesPerSecond: seconds > 0 ? trained / seconds : undefined };
  }

  /** Ends a fit in progress after its current batch (tfjs checks stopTraining between batches). */
  stop(): void {
    this.stopping = true;
    this.model.stopTraining = true;
  }

  async evaluate(): Promise<EvaluateResult> {
    if (!this.test) return { numExamples: 0, metrics: {} };
    const values = await evaluateModel(this.model, this.test.x, this.test.y, EVAL_BATCH);
    const metrics = Object.fromEntries(this.model.metricsNames.map((name, i) => [metricName(name), values[i]]));
    return { numExamples: this.test.x.shape[0], metrics };
  }

  /** fit shuffles each epoch itself unless told not to, or unless the seeded generator has already ordered it. */
  private get fitShuffles(): boolean {
    return (this.options.shuffle ?? true) && this.random === undefined;
  }

  /** The seeded generator where it orders the epochs (seeded and shuffling). */
  private get seededShuffle(): Random | undefined {
    return (this.options.shuffle ?? true) ? this.random : undefined;
  }

  private epochSample(settings: TrainSettings): { x: tf.Tensor; y: tf.Tensor; count: number } {
    const total = this.train_.x.shape[0];
    const wanted = Math.min(total, settings.stepsPerEpoch ? settings.stepsPerEpoch * settings.batchSize : total);
    if (wanted === total && this.seededShuffle === undefined) return { ...this.train_, count: total };
    return tf.tidy(() => {
      const indices = tf.tensor1d(sampleIndices(total, wanted, this.random ?? Math.random), "int32");
      return { x: tf.gather(this.train_.x, indices), y: tf.gather(this.train_.y, indices), count: wanted };
    });
  }
}

function tensorArrays(x: tf.Tensor, y: tf.Tensor): { x: Float32Array; y: Float32Array } {
  return { x: x.dataSync() as Float32Array, y: y.dataSync() as Float32Array };
}

/** Keras/TF.js name metrics "acc" or "accuracy"; reports always say "accuracy". */
function metricName(name: string): string {
  return name === "acc" ? "accuracy" : name;
}

function usesOneHotLabels(model: LayersModel): boolean {
  const loss = (model as unknown as { loss?: unknown }).loss;
  const names = (Array.isArray(loss) ? loss : [loss]).map((l) => (typeof l === "string" ? l : (l as { name?: string })?.name ?? ""));
  return !names.some((n) => /sparse/i.test(n)) && names.some((n) => /categorical/i.test(n));
}

/** `count` distinct indices below `total` in random order (a partial Fisher-Yates shuffle). */
function sampleIndices(total: number, count: number, random: Random): Int32Array {
  const all = Int32Array.from({ length: total }, (_, i) => i);
  for (let i = 0; i < count; i++) {
    const j = i + Math.floor(random() * (total - i));
    [all[i], all[j]] = [all[j], all[i]];
  }
  return all.slice(0, count);
}
