// A TensorFlow.js model module for Cohort's "module" model source.
//
// Cohort imports this file and calls its default export with its own TensorFlow.js namespaces
// ({ tf, tfl }: tfjs-core and tfjs-layers), so this folder needs no node_modules. The function
// returns a compiled tfl.LayersModel (it may also return a promise of one).
//
// The model: a small CNN for 28x28x1 MNIST digits that trains at thousands of samples/s on
// the wasm backend and passes 95% test accuracy within two epochs on 8,000 digits (Adam at
// 0.004, batch 32; Cohort's createMnistCnn() is the same model).
export default function createModel({ tf, tfl }) {
  const model = tfl.sequential({
    layers: [
      tfl.layers.conv2d({ inputShape: [28, 28, 1], filters: 8, kernelSize: 5, activation: "relu" }),
      tfl.layers.maxPooling2d({ poolSize: 2 }),
      tfl.layers.conv2d({ filters: 16, kernelSize: 5, activation: "relu" }),
      tfl.layers.maxPooling2d({ poolSize: 2 }),
      tfl.layers.flatten(),
      tfl.layers.dense({ units: 10, activation: "softmax" }),
    ],
  });
  model.compile({ optimizer: tf.train.adam(0.004), loss: "categoricalCrossentropy", metrics: ["accuracy"] });
  return model;
}
