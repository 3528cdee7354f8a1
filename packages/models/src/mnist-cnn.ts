/**
 * Ready-made MNIST models. `createMnistCnn` is the demo's model: small enough to train at
 * thousands of samples/s on the wasm backend, yet above 95% test accuracy after a few epochs on
 * 8,000 digits. `createKerasMnistCnn` is the classic Keras example CNN (the seed's benchmark
 * model), kept for benchmarks and for parity with IBM FL's Keras MNIST example.
 */
import { kerasOptimizer } from "./optimizers/keras.js";
import { tfl, type LayersModel } from "./tfjs.js";

export interface MnistCnnOptions {
  /**
   * Compile with Keras' Adam (the rule a party trains a Keras file with; on the tensorflow backend
   * it runs as TensorFlow's fused ResourceApplyAdam) and categorical cross-entropy (default true).
   */
  compile?: boolean;
  /** Adam's learning rate; defaults to DEMO_LEARNING_RATE or Keras' 0.001 respectively. */
  learningRate?: number;
  /** Seeds the kernels' initialisation (Glorot uniform, as unseeded), layer i from seed + i: the same seed gives the same initial weights. */
  seed?: number;
}

/**
 * Measured on 8,000 digits, batch 32, 2,000 held out (bench/mnist-accuracy.mjs): after epochs 2
 * and 4, 95.9% and 97.2% test accuracy at 0.004; 93.7% and 95.0% at Keras' 0.001.
 */
export const DEMO_LEARNING_RATE = 0.004;

/** Conv(8,5,relu)-MaxPool2-Conv(16,5,relu)-MaxPool2-Flatten-Dense(10,softmax) on 28x28x1 input. */
export function createMnistCnn(options: MnistCnnOptions = {}): LayersModel {
  const init = (layer: number) => (options.seed === undefined ? {} : { kernelInitializer: tfl.initializers.glorotUniform({ seed: options.seed + layer }) });
  const model = tfl.sequential({
    layers: [
      tfl.layers.conv2d({ inputShape: [28, 28, 1], filters: 8, kernelSize: 5, activation: "relu", ...init(0) }),
      tfl.layers.maxPooling2d({ poolSize: 2 }),
      tfl.layers.conv2d({ filters: 16, kernelSize: 5, activation: "relu", ...init(1) }),
      tfl.layers.maxPooling2d({ poolSize: 2 }),
      tfl.layers.flatten(),
      tfl.layers.dense({ units: 10, activation: "softmax", ...init(2) }),
    ],
  });
  return maybeCompile(model, { ...options, learningRate: options.learningRate ?? DEMO_LEARNING_RATE });
}

/** Keras' mnist_cnn.py: Conv(32,3)-Conv(64,3)-MaxPool2-Dropout.25-Flatten-Dense128-Dropout.5-Dense10. */
export function createKerasMnistCnn(options: MnistCnnOptions = {}): LayersModel {
  const model = tfl.sequential({
    layers: [
      tfl.layers.conv2d({ inputShape: [28, 28, 1], filters: 32, kernelSize: 3, activation: "relu" }),
      tfl.layers.conv2d({ filters: 64, kernelSize: 3, activation: "relu" }),
      tfl.layers.maxPooling2d({ poolSize: 2 }),
      tfl.layers.dropout({ rate: 0.25 }),
      tfl.layers.flatten(),
      tfl.layers.dense({ units: 128, activation: "relu" }),
      tfl.layers.dropout({ rate: 0.5 }),
      tfl.layers.dense({ units: 10, activation: "softmax" }),
    ],
  });
  return maybeCompile(model, options);
}

function maybeCompile(model: LayersModel, options: MnistCnnOptions): LayersModel {
  if (options.compile !== false) {
    model.compile({
      optimizer: kerasOptimizer("Adam", { lr: options.learningRate ?? 0.001 }),
      loss: "categoricalCrossentropy",
      metrics: ["accuracy"],
    });
  }
  return model;
}
