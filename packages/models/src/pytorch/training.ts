/**
 * PyTorch `optimizer` / `loss_criterion` spec values -> TF.js, with PyTorch's default
 * hyperparameters, so a spec written for IBM FL's PytorchFLModel trains alike here.
 *
 * Labels: the classification losses (NLLLoss, CrossEntropyLoss) take **one-hot** labels [N, C].
 * Their function names contain "categorical", which is how the party's learner knows to one-hot
 * its class ids before fitting (tfjs-layers only accepts class ids for its own sparse loss).
 * Optimizers are torch.optim's own rules and defaults (../optimizers/torch.ts). Known difference:
 * Dropout2d drops elements, not channels.
 */
import { tf, type LayersModel } from "../tfjs.js";
import { TORCH_OPTIMIZERS, torchOptimizer as ruleOptimizer } from "../optimizers/torch.js";

export { TORCH_OPTIMIZERS };
export const TORCH_LOSSES = ["nn.NLLLoss", "nn.CrossEntropyLoss", "nn.MSELoss", "nn.L1Loss", "nn.BCELoss", "nn.BCEWithLogitsLoss"];

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

/** `optim.NAME` with torch's defaults; `lr` and torch's keyword arguments in `params` override them. */
export function torchOptimizer(name: string, lr?: number, params: Record<string, unknown> = {}): tf.Optimizer {
  if (lr !== undefined && !(lr > 0 && Number.isFinite(lr))) throw new RangeError(`learning rate must be a positive number, got ${lr}`);
  return ruleOptimizer(name, { ...params, ...(lr !== undefined ? { lr } : {}) });
}

export function torchLoss(name: string): LossFn | string {
  const loss = LOSSES[key(name)];
  if (!loss) throw new Error(`unsupported loss_criterion "${name}"; supported: ${TORCH_LOSSES.join(", ")}`);
  return loss;
}

type TorchSpec = { optimizer?: unknown; loss_criterion?: unknown; learning_rate?: unknown; lr?: unknown };

/**
 * The spec's `optimizer`: a name (`optim.Adadelta`) or `{name: optim.SGD, momentum: 0.9, ...}`
 * with torch's keyword arguments. Defaults to optim.Adam, as IBM FL's PytorchFLModel does.
 */
export function torchOptimizerFromSpec(spec: TorchSpec): tf.Optimizer {
  const lr = spec.learning_rate ?? spec.lr;
  if (lr !== undefined && typeof lr !== "number") throw new Error(`learning_rate must be a number, got ${JSON.stringify(lr)}`);
  const o = spec.optimizer ?? "optim.Adam";
  if (typeof o === "string") return torchOptimizer(o, lr as number | undefined);
  if (typeof o === "object" && o !== null && !Array.isArray(o) && typeof (o as { name?: unknown }).name === "string") {
    const { name, ...params } = o as Record<string, unknown>;
    return torchOptimizer(name as string, lr as number | undefined, params);
  }
  throw new Error(`optimizer must be a name (e.g. optim.Adadelta) or {name: optim.SGD, momentum: 0.9, ...}, got ${JSON.stringify(o)}`);
}

/** Compiles with the spec's optimizer / loss_criterion (defaults: Adam, and no loss = error). */
export function compileTorchStyle(model: LayersModel, spec: TorchSpec): void {
  if (typeof spec.loss_criterion !== "string") throw new Error(`loss_criterion is required; supported: ${TORCH_LOSSES.join(", ")}`);
  const optimizer = torchOptimizerFromSpec(spec);
  const loss = torchLoss(spec.loss_criterion);
  const classify = typeof loss !== "string" && loss.name.includes("Categorical");
  model.compile({ optimizer, loss, metrics: classify ? ["accuracy"] : [] });
}
