/**
 * Keras crossentropy losses whose saved objects carry options tfjs-layers' string losses lack:
 * `from_logits` and `label_smoothing` (Keras 3 `keras/src/losses/losses.py`: labels smoothed to
 * y * (1 - s) + s / C, or + s / 2 for binary; per-sample loss, then the mean over the batch).
 * Names keep "categorical" / "sparse" so the party's learner knows how to feed labels.
 */
import { tf } from "../tfjs.js";

export type LossFn = (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Tensor;
const EPSILON = 1e-7;

const named = (name: string, fn: LossFn): LossFn => Object.defineProperty(fn, "name", { value: name });

/** Options of a Keras loss object (`{from_logits, label_smoothing}`); undefined when none applies. */
export function kerasLossWithOptions(name: string, config: Record<string, unknown> | undefined): LossFn | undefined {
  const fromLogits = config?.from_logits === true;
  const smoothing = typeof config?.label_smoothing === "number" ? config.label_smoothing : 0;
  if (!fromLogits && !smoothing) return undefined;
  if (!(smoothing >= 0 && smoothing <= 1)) throw new Error(`label_smoothing must be in [0, 1], got ${smoothing}`);
  const key = name.toLowerCase().replace(/[_\s-]/g, "");
  const logProbs = (yPred: tf.Tensor) => (fromLogits ? tf.logSoftmax(yPred) : tf.log(tf.clipByValue(tf.div(yPred, tf.sum(yPred, -1, true)), EPSILON, 1 - EPSILON)));
  if (key === "categoricalcrossentropy") {
    return named(`categoricalCrossentropy${fromLogits ? "FromLogits" : ""}`, (yTrue, yPred) => tf.tidy(() => {
      const classes = yPred.shape[yPred.rank - 1]!;
      const y = smoothing ? tf.add(tf.mul(yTrue, 1 - smoothing), smoothing / classes) : yTrue;
      return tf.mean(tf.neg(tf.sum(tf.mul(y, logProbs(yPred)), -1)));
    }));
  }
  if (key === "sparsecategoricalcrossentropy") {
    if (smoothing) throw new Error("sparse_categorical_crossentropy has no label_smoothing in Keras");
    // tfjs-layers takes class ids only for its own sparse loss, so this one is fed one-hot labels
    // (its name says "categorical" without "sparse": the learner one-hots class ids for it).
    return named("categoricalCrossentropyFromLogits", (yTrue, yPred) => tf.tidy(() => tf.mean(tf.neg(tf.sum(tf.mul(yTrue, logProbs(yPred)), -1)))));
  }
  if (key === "binarycrossentropy") {
    return named(`binaryCrossentropy${fromLogits ? "FromLogits" : ""}`, (yTrue, yPred) => tf.tidy(() => {
      const y = smoothing ? tf.add(tf.mul(yTrue, 1 - smoothing), smoothing / 2) : yTrue;
      // Logits: max(x, 0) - x * y + log(1 + exp(-|x|)), TensorFlow's stable form.
      const perElement = fromLogits
        ? tf.add(tf.sub(tf.relu(yPred), tf.mul(yPred, y)), tf.log1p(tf.exp(tf.neg(tf.abs(yPred)))))
        : (() => {
          const p = tf.clipByValue(yPred, EPSILON, 1 - EPSILON);
          return tf.neg(tf.add(tf.mul(y, tf.log(p)), tf.mul(tf.sub(1, y), tf.log(tf.sub(1, p)))));
        })();
      return tf.mean(tf.mean(perElement, -1));
    }));
  }
  throw new Error(`loss "${name}" with from_logits / label_smoothing is not supported (only the crossentropies take them)`);
}
