/**
 * One wasm backend in a worker thread: holds a copy of the model, and for each step reads the
 * current weights from shared memory, computes the gradient of its slice of the batch and writes
 * it to its own shared gradient buffer. Importing the package index registers Cohort's custom
 * layers and wasm training kernels here too, so the same models deserialize and train.
 */
import { parentPort } from "node:worker_threads";
import { selectBackend, tf, tfl, type LayersModel } from "../index.js";
import { threadCpuMs } from "./thread-cpu.js";
import type { InitMessage, StepMessage, WorkerReply } from "./protocol.js";

type LossFn = (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Tensor;

const port = parentPort;
if (!port) throw new Error("wasm-parallel/worker.js must run in a worker thread");

let model: LayersModel;
let lossFn: LossFn;
let variables: tf.Variable[];
let weights: Float32Array;
let grads: Float32Array;
let accuracy = false;

const reply = (message: WorkerReply) => port.postMessage(message);

port.on("message", (message: { init?: InitMessage; step?: StepMessage }) => {
  const work = message.init ? init(message.init) : new Promise<WorkerReply>((resolve) => resolve(step(message.step as StepMessage)));
  work.then(reply, (err: unknown) => reply({ kind: "error", message: err instanceof Error ? (err.stack ?? err.message) : String(err) }));
});

async function init(message: InitMessage): Promise<WorkerReply> {
  const backend = await selectBackend("wasm");
  model = await tfl.models.modelFromJSON({ modelTopology: message.topology as tf.io.ModelJSON["modelTopology"] });
  // Compiling resolves the loss name exactly as the main thread's compile did; the optimizer is unused.
  model.compile({ optimizer: "sgd", loss: message.loss });
  // A Sequential compiles the functional model it wraps; the resolved loss lives there.
  const compiled = model as unknown as { lossFunctions?: LossFn[]; model?: { lossFunctions?: LossFn[] } };
  const resolved = compiled.lossFunctions?.[0] ?? compiled.model?.lossFunctions?.[0];
  if (!resolved) throw new Error(`tfjs-layers resolved no loss function for "${message.loss}"`);
  lossFn = resolved;
  variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
  weights = new Float32Array(message.weights);
  grads = new Float32Array(message.grads);
  accuracy = message.accuracy;
  const size = variables.reduce((n, v) => n + v.size, 0);
  if (size !== weights.length) throw new Error(`the worker's model has ${size} trainable values, the main thread's ${weights.length}`);
  return { kind: "ready", backend: backend.name };
}

function step(message: StepMessage): WorkerReply {
  const started = performance.now();
  const cpuStarted = threadCpuMs();
  let offset = 0;
  for (const v of variables) {
    tf.tidy(() => v.assign(tf.tensor(weights.subarray(offset, offset + v.size), v.shape, "float32")));
    offset += v.size;
  }
  const result = tf.tidy(() => {
    const x = tf.tensor(message.x, message.xShape, "float32");
    const y = tf.tensor(message.y, message.yShape, "float32");
    let correct = 0;
    const { value, grads: g } = tf.variableGrads(() => {
      const predicted = model.apply(x, { training: true }) as tf.Tensor;
      // Counted here: variableGrads disposes the prediction when it returns.
      if (accuracy) correct = countCorrect(y, predicted);
      return tf.mul(tf.mean(lossFn(y, predicted)), message.scale) as tf.Scalar;
    }, variables);
    let at = 0;
    for (const v of variables) {
      grads.set(g[v.name].dataSync() as Float32Array, at);
      at += v.size;
    }
    return { loss: value.dataSync()[0], correct };
  });
  const cpuEnded = threadCpuMs();
  const cpuMs = cpuStarted !== undefined && cpuEnded !== undefined ? cpuEnded - cpuStarted : undefined;
  return { kind: "step", ...result, ms: performance.now() - started, cpuMs };
}

/** Keras' "accuracy" for the label layout at hand: one-hot, sparse class ids, or one sigmoid unit. */
function countCorrect(y: tf.Tensor, predicted: tf.Tensor): number {
  const units = predicted.shape[predicted.shape.length - 1] ?? 1;
  return tf.tidy(() => {
    const hits = units === 1
      ? tf.equal(tf.round(predicted), y)
      : y.shape.length === predicted.shape.length && y.shape[y.shape.length - 1] === units
        ? tf.equal(tf.argMax(predicted, -1), tf.argMax(y, -1))
        : tf.equal(tf.argMax(predicted, -1), tf.cast(tf.reshape(y, [-1]), "int32"));
    return tf.sum(tf.cast(hits, "float32")).dataSync()[0];
  });
}
