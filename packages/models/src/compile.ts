/**
 * Compiles a model from config-style names (IBM FL / Keras spellings) and changes its learning
 * rate between rounds.
 */
import { tf, type LayersModel } from "./tfjs.js";

export interface CompileOptions {
  /** "adam", "sgd", "rmsprop", "adagrad", "adadelta", "adamax"; case and "optim."/"keras.optimizers." prefixes ignored. */
  optimizer: string;
  /** Learning rate; defaults to Keras' default for the optimizer. */
  lr?: number;
  /** Keras loss name, snake_case or camelCase (e.g. "categorical_crossentropy", "mse"). */
  loss: string;
  metrics?: string[];
}

/** Keras' default learning rates, so that a config naming only the optimizer trains like Keras. */
const OPTIMIZERS: Record<string, { lr: number; make: (lr: number) => tf.Optimizer }> = {
  adam: { lr: 0.001, make: (lr) => tf.train.adam(lr) },
  sgd: { lr: 0.01, make: (lr) => tf.train.sgd(lr) },
  rmsprop: { lr: 0.001, make: (lr) => tf.train.rmsprop(lr) },
  adagrad: { lr: 0.01, make: (lr) => tf.train.adagrad(lr) },
  adadelta: { lr: 1.0, make: (lr) => tf.train.adadelta(lr) },
  adamax: { lr: 0.002, make: (lr) => tf.train.adamax(lr) },
};

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

const METRICS: Record<string, string> = {
  accuracy: "accuracy",
  acc: "accuracy",
  mse: "meanSquaredError",
  meansquarederror: "meanSquaredError",
  mae: "meanAbsoluteError",
  meanabsoluteerror: "meanAbsoluteError",
  precision: "precision",
  recall: "recall",
  categoricalaccuracy: "categoricalAccuracy",
  sparsecategoricalaccuracy: "sparseCategoricalAccuracy",
  binaryaccuracy: "binaryAccuracy",
};

/** "optim.Adam", "keras.optimizers.SGD", "categorical_crossentropy" -> "adam", "sgd", "categoricalcrossentropy". */
function normalise(name: string): string {
  return name.trim().toLowerCase().replace(/^(torch\.)?(optim|keras\.optimizers|tf\.keras\.optimizers|keras\.losses)\./, "").replace(/[_\s-]/g, "");
}

function lookup(table: Record<string, string>, kind: string, name: string): string {
  const found = table[normalise(name)];
  if (!found) throw new Error(`unknown ${kind} "${name}"; known: ${[...new Set(Object.keys(table))].join(", ")}`);
  return found;
}

export function makeOptimizer(name: string, lr?: number): tf.Optimizer {
  const entry = OPTIMIZERS[normalise(name)];
  if (!entry) throw new Error(`unknown optimizer "${name}"; known: ${Object.keys(OPTIMIZERS).join(", ")}`);
  if (lr !== undefined && !(lr > 0 && Number.isFinite(lr))) throw new RangeError(`learning rate must be a positive number, got ${lr}`);
  return entry.make(lr ?? entry.lr);
}

export function compileFromOptions(model: LayersModel, options: CompileOptions): LayersModel {
  const loss = lookup(LOSSES, "loss", options.loss);
  const metrics = (options.metrics ?? []).map((m) => lookup(METRICS, "metric", m));
  model.compile({ optimizer: makeOptimizer(options.optimizer, options.lr), loss, metrics });
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

