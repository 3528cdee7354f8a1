// A custom loss (custom_objects) for models whose output is logits, as the seed guide's subclassed
// model's Dense(10) head is: Keras' CategoricalCrossentropy(from_logits=True) on one-hot labels
// (its name says "categorical", so the party one-hot encodes integer labels for it).
import * as tf from "@tensorflow/tfjs-core";

export function categoricalCrossentropyFromLogits(yTrue, yPred) {
  return tf.losses.softmaxCrossEntropy(yTrue, yPred, undefined, undefined, tf.Reduction.NONE);
}
