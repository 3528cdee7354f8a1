// A custom Keras layer for the custom_objects tests: y = 2x. Keras knew it as "Doubler".
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";

export class DoublerLayer extends tfl.layers.Layer {
  static className = "Doubler";
  call(inputs) {
    return tf.mul(Array.isArray(inputs) ? inputs[0] : inputs, 2);
  }
}

export function halfMse(yTrue, yPred) {
  return tf.mul(tf.mean(tf.square(tf.sub(yTrue, yPred)), -1), 0.5);
}
