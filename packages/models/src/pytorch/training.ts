/**
 * PyTorch `optimizer` / `loss_criterion` spec values -> TF.js, with PyTorch's default
 * hyperparameters, so a spec written for IBM FL's PytorchFLModel trains alike here.
 *
 * Labels: the classification losses (NLLLoss, CrossEntropyLoss) take **one-hot** labels [N, C].
 * Their function names contain "categorical", which is how the party's learner knows to one-hot
 * its class ids before fitting (tfjs-layers only accepts class ids for its own sparse loss).
 * Known differences from PyTorch: RMSprop adds epsilon inside the square root (tfjs), Adagrad's
 * and Adadelta's epsilon placement follows tfjs; Dropout2d drops elements, not channels.
 */
import { tf, type LayersModel } from "../tfjs.js";

export const TORCH_OPTIMIZERS = ["optim.SGD", "optim.Adam", "optim.AdamW", "optim.RMSprop", "optim.Adagrad", "optim.Adadelta"];
export const TORCH_LOSSES = ["nn.NLLLoss", "nn.CrossEntropyLoss", "nn.MSELoss", "nn.L1Loss", "nn.BCELoss", "nn.BCEWithLogitsLoss"];

/** AdamW: Adam plus decoupled weight decay p -= lr * wd * p applied before the Adam step, as torch does. */
class AdamW extends tf.AdamOptimizer {
  static override get className() { return "AdamW"; }
  constructor(lr: number, private readonly weightDecay: number) {
    super(lr, 0.9, 0.999, 1e-8);
  }
  override applyGradients(grads: Parameters<tf.AdamOptimizer["applyGradients"]>[0]): void {
    const names = Array.isArray(grads) ? grads.map((g) => g.name) : Object.keys(grads);
    const variables = tf.engine().registeredVariables;
    tf.tidy(() => {
      for (const n of names) {
        const v = variables[n];
        if (v) v.assign(tf.mul(v, 1 - this.learningRate * this.weightDecay));
      }
    });
    super.applyGradients(grads);
  }
}

const OPTIMIZERS: Record<string, { lr: number; make: (lr: number) => tf.Optimizer }> = {
  // torch >= 2.2 defaults SGD's lr to 1e-3 (earlier versions required it).
  sgd: { lr: 1e-3, make: (lr) => tf.train.sgd(lr) },
  adam: { lr: 1e-3, make: (lr) => tf.train.adam(lr, 0.9, 0.999, 1e-8) },
  adamw: { lr: 1e-3, make: (lr) => new AdamW(lr, 0.01) },
  rmsprop: { lr: 1e-2, make: (lr) => tf.train.rmsprop(lr, 0.99, 0, 1e-8) },
  // tfjs 4.22 accepts an initial accumulator of 0 (torch's default) and adds its epsilon.
  adagrad: { lr: 1e-2, make: (lr) => tf.train.adagrad(lr, 0) },
  adadelta: { lr: 1.0, make: (lr) => tf.train.adadelta(lr, 0.9, 1e-6) },
};

type LossFn = (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Tensor;
const named = (name: string, fn: LossFn): LossFn => Object.defineProperty(fn, "name", { value: name });
const oneHotLike = (yTrue: tf.Tensor, yPred: tf.Tensor) =>
  // Class ids [N] or [N,1] are accepted too, for direct calls outside the learner.
  yTrue.shape.length === yPred.shape.length && yTrue.shape[yTrue.rank - 1] === yPred.shape[yPred.rank - 1]
    ? yTrue : tf.oneHot(tf.cast(tf.reshape(yTrue, [-1]), "int32"), yPred.shape[yPred.rank - 1]!);

const LOSSES: Record<string, LossFn | string> = {
  // NLLLoss: the model outputs log-probabilities; loss = -mean(log p[label]).
  nllloss: named("nllLossCategorical", (yTrue, yPred) => tf.tidy(() => tf.neg(tf.mean(tf.sum(tf.mul(oneHotLike(yTrue, yPred), yPred), -1))))),
  // CrossEntropyLoss: the model outputs logits.
  crossentropyloss: named("crossEntropyLossCategorical", (yTrue, yPred) =>
    tf.tidy(() => tf.neg(tf.mean(tf.sum(tf.mul(oneHotLike(yTrue, yPred), tf.logSoftmax(yPred)), -1))))),
  mseloss: "meanSquaredError",
  l1loss: "meanAbsoluteError",
  bceloss: "binaryCrossentropy",
  bcewithlogitsloss: named("bceWithLogitsLoss", (yTrue, yPred) => tf.losses.sigmoidCrossEntropy(yTrue, yPred)),
};

const key = (name: string) => name.trim().replace(/^(torch\.)?(optim|nn)\./, "").toLowerCase();

export function torchOptimizer(name: string, lr?: number): tf.Optimizer {
  const entry = OPTIMIZERS[key(name)];
  if (!entry) throw new Error(`unsupported optimizer "${name}"; supported: ${TORCH_OPTIMIZERS.join(", ")}`);
  if (lr !== undefined && !(lr > 0 && Number.isFinite(lr))) throw new RangeError(`learning rate must be a positive number, got ${lr}`);
  return entry.make(lr ?? entry.lr);
}

export function torchLoss(name: string): LossFn | string {
  const loss = LOSSES[key(name)];
  if (!loss) throw new Error(`unsupported loss_criterion "${name}"; supported: ${TORCH_LOSSES.join(", ")}`);
  return loss;
}

/** Compiles with the spec's optimizer / loss_criterion (defaults: Adam, and no loss = error). */
export function compileTorchStyle(model: LayersModel, spec: { optimizer?: unknown; loss_criterion?: unknown; learning_rate?: unknown; lr?: unknown }): void {
  const lr = spec.learning_rate ?? spec.lr;
  if (lr !== undefined && typeof lr !== "number") throw new Error(`learning_rate must be a number, got ${JSON.stringify(lr)}`);
  if (typeof spec.loss_criterion !== "string") throw new Error(`loss_criterion is required; supported: ${TORCH_LOSSES.join(", ")}`);
  const optimizer = torchOptimizer(typeof spec.optimizer === "string" ? spec.optimizer : "optim.Adam", lr as number | undefined);
  const loss = torchLoss(spec.loss_criterion);
  const classify = typeof loss !== "string" && loss.name.includes("Categorical");
  model.compile({ optimizer, loss, metrics: classify ? ["accuracy"] : [] });
}
