/**
 * Compiles a model from config-style names (IBM FL / Keras spellings) and changes its learning
 * rate between rounds.
 */
import { tf, tfl, type LayersModel } from "./tfjs.js";
import { type KerasGeneration, kerasOptimizer } from "./optimizers/keras.js";
import { kerasLossWithOptions } from "./keras/losses.js";

export interface CompileOptions {
  /** "adam", "adamw", "sgd", "rmsprop", "adagrad", "adadelta", "adamax"; case and "optim."/"keras.optimizers." prefixes ignored. */
  optimizer: string;
  /** Learning rate; defaults to the Keras default for the optimizer (of the file's Keras generation). */
  lr?: number;
  /** The saved optimizer's hyperparameters (Keras' `optimizer.get_config()` keys: rho, momentum, epsilon, ...). */
  optimizerConfig?: Record<string, unknown>;
  /** Whose defaults and rules apply; a Keras file's loader sets it from the file's keras_version. */
  kerasGeneration?: KerasGeneration;
  /** Keras loss name, snake_case or camelCase (e.g. "categorical_crossentropy", "mse"). */
  loss: string;
  /** The saved loss object's config: `from_logits` and `label_smoothing` are honoured. */
  lossConfig?: Record<string, unknown>;
  metrics?: string[];
}

/** Keras name -> tfjs-layers loss identifier (tfjs 4.22 knows all of these as strings). */
const LOSSES: Record<string, string> = {
  categoricalcrossentropy: "categoricalCrossentropy",
  sparsecategoricalcrossentropy: "sparseCategoricalCrossentropy",
  binarycrossentropy: "binaryCrossentropy",
  mse: "meanSquaredError",
  meansquarederror: "meanSquaredError",
  mae: "meanAbsoluteError",
  meanabsoluteerror: "meanAbsoluteError",
  mape: "meanAbsolutePercentageError",
  meanabsolutepercentageerror: "meanAbsolutePercentageError",
  msle: "meanSquaredLogarithmicError",
  meansquaredlogarithmicerror: "meanSquaredLogarithmicError",
  hinge: "hinge",
  squaredhinge: "squaredHinge",
  categoricalhinge: "categoricalHinge",
  logcosh: "logcosh",
  kld: "kullbackLeiblerDivergence",
  kullbackleiblerdivergence: "kullbackLeiblerDivergence",
  poisson: "poisson",
  cosineproximity: "cosineProximity",
};

/** A metric as tfjs-layers' compile takes it: one of its own names, or a metric function. */
type MetricRef = string | ((yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Tensor);

/**
 * tfjs-layers knows only "accuracy"/"acc" and the short names of its metricsMap ("mse", "mae",
 * "categoricalAccuracy", ...) as strings: "meanSquaredError" or "sparseCategoricalAccuracy" are
 * "Unknown metric" there, so those are given by their short name or as the metric function.
 */
const METRICS: Record<string, MetricRef> = {
  accuracy: "accuracy",
  acc: "accuracy",
  mse: "mse",
  meansquarederror: "mse",
  mae: "mae",
  meanabsoluteerror: "mae",
  precision: "precision",
  recall: tfl.metrics.recall,
  categoricalaccuracy: "categoricalAccuracy",
  sparsecategoricalaccuracy: tfl.metrics.sparseCategoricalAccuracy,
  binaryaccuracy: "binaryAccuracy",
};

/** "optim.Adam", "keras.optimizers.SGD", "categorical_crossentropy" -> "adam", "sgd", "categoricalcrossentropy". */
function normalise(name: string): string {
  return name.trim().toLowerCase().replace(/^(torch\.)?(optim|keras\.optimizers|tf\.keras\.optimizers|keras\.losses)\./, "").replace(/[_\s-]/g, "");
}

function lookup<T>(table: Record<string, T>, kind: string, name: string): T {
  const found = table[normalise(name)];
  if (!found) throw new Error(`unknown ${kind} "${name}"; known: ${[...new Set(Object.keys(table))].join(", ")}`);
  return found;
}

/** Keras generation of models built from a Keras file, so spec compile options get that file's defaults. */
const generationOf = new WeakMap<LayersModel, KerasGeneration>();
export function setKerasGeneration(model: LayersModel, generation: KerasGeneration): void {
  generationOf.set(model, generation);
}

/** A Keras optimizer with Keras' update rule and defaults (Keras 3's unless told otherwise). */
export function makeOptimizer(name: string, lr?: number, options: Pick<CompileOptions, "optimizerConfig" | "kerasGeneration"> = {}): tf.Optimizer {
  if (lr !== undefined && !(lr > 0 && Number.isFinite(lr))) throw new RangeError(`learning rate must be a positive number, got ${lr}`);
  return kerasOptimizer(name, { lr, config: options.optimizerConfig, generation: options.kerasGeneration });
}

export function compileFromOptions(model: LayersModel, options: CompileOptions): LayersModel {
  const loss = kerasLossWithOptions(options.loss, options.lossConfig) ?? lookup(LOSSES, "loss", options.loss);
  const metrics = (options.metrics ?? []).map((m) => lookup(METRICS, "metric", m));
  const kerasGeneration = options.kerasGeneration ?? generationOf.get(model);
  model.compile({ optimizer: makeOptimizer(options.optimizer, options.lr, { ...options, kerasGeneration }), loss, metrics });
  return model;
}

/**
 * Sets the learning rate used by the model's next training step, keeping the optimizer's
 * state (Adam moments, iteration count). Every tfjs 4.22 optimizer reads its `learningRate`
 * field on each step; SGD and momentum also cache it as a tensor, refreshed by their own
 * `setLearningRate`.
 */
export function setLearningRate(model: LayersModel, lr: number): void {
  if (!(lr >= 0 && Number.isFinite(lr))) throw new RangeError(`learning rate must be a non-negative number, got ${lr}`);
  const optimizer = model.optimizer as unknown as
    | { learningRate?: number; setLearningRate?: (lr: number) => void; getClassName(): string }
    | undefined;
  if (!optimizer) throw new Error(`model "${model.name}" is not compiled; compile it before setting a learning rate`);
  if (typeof optimizer.setLearningRate === "function") optimizer.setLearningRate(lr);
  else if (typeof optimizer.learningRate === "number") optimizer.learningRate = lr;
  else throw new Error(`optimizer ${optimizer.getClassName()} has no learning rate to set`);
}

/** The learning rate the model's optimizer will use next, when it has one. */
export function getLearningRate(model: LayersModel): number | undefined {
  const optimizer = model.optimizer as unknown as { learningRate?: unknown } | undefined;
  return typeof optimizer?.learningRate === "number" ? optimizer.learningRate : undefined;
}

