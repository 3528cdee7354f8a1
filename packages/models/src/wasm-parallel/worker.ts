/**
 * One wasm backend in a worker thread: holds a copy of the model, and for each step reads the
 * current weights from shared memory, computes the gradient of its slice of the batch, writes it
 * to its own shared gradient buffer, waits for the other workers' and adds up its stretch of all
 * of them into the shared sum (reduce.ts), then, where the optimizer allows (optimizer-shard.ts),
 * steps the optimizer on that stretch and writes the new weights back. Importing the package
 * index registers Cohort's custom layers and wasm training kernels here too, so the same models
 * deserialize and train.
 */
import { parentPort } from "node:worker_threads";
import { selectBackend, tf, tfl, type LayersModel } from "../index.js";
import { arriveAndWait, stretchOf, sumStretch } from "./reduce.js";
import { threadTimes } from "./thread-cpu.js";
import { heap } from "../wasm-kernels/wasm-calls.js";
import { type SeededNoiseLayer, seededNoiseLayers, setNoiseSeeds } from "../noise-seeds.js";
import { buildOptimizer, ElementwiseShard, readState, segmentsOf, sliceState, writeState, type Segment } from "./optimizer-shard.js";
import type { BeginMessage, InitMessage, StepMessage, WorkerReply, WorkerStepTimes } from "./protocol.js";

type LossFn = (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Tensor;

const port = parentPort;
if (!port) throw new Error("wasm-parallel/worker.js must run in a worker thread");

let model: LayersModel;
let lossFn: LossFn;
let variables: tf.Variable[];
/** The model's Dropout layers, seeded for each step when the main thread sends seeds. */
let noiseLayers: SeededNoiseLayer[] = [];
let weights: Float32Array;
let grads: Float32Array[];
let sum: Float32Array;
let barrier: Int32Array;
let index: number;
let threads: number;
let accuracy = false;
/** This worker's stretch of the flat weights cut at variable ends, each piece a 1-D variable of its own. */
let segments: Segment[];
let segmentVariables: tf.Variable[];
/** The optimizer stepping the segments during a fit (undefined while the main thread steps it). */
let optimizer: tf.Optimizer | undefined;
/** This worker's stretch of the flat weights, [from, to). */
let stretch: [number, number];
/** The optimizer's elementwise form over the stretch, where it has one: then it steps instead of `optimizer`. */
let shard: ElementwiseShard | undefined;

const reply = (message: WorkerReply) => port.postMessage(message);

port.on("message", (message: { init?: InitMessage; step?: StepMessage; begin?: BeginMessage; end?: true }) => {
  const work = message.init ? init(message.init)
    : message.begin ? begin(message.begin)
      : message.end ? end()
        : new Promise<WorkerReply>((resolve) => resolve(step(message.step as StepMessage)));
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
  noiseLayers = seededNoiseLayers(model);
  weights = new Float32Array(message.weights);
  grads = message.grads.map((b) => new Float32Array(b));
  sum = new Float32Array(message.sum);
  barrier = new Int32Array(message.barrier);
  index = message.index;
  threads = message.threads;
  accuracy = message.accuracy;
  const size = variables.reduce((n, v) => n + v.size, 0);
  if (grads.some((g) => g.length !== size) || sum.length !== size) throw new Error("the gradient buffers do not match the weights");
  if (size !== weights.length) throw new Error(`the worker's model has ${size} trainable values, the main thread's ${weights.length}`);
  stretch = stretchOf(size, index, threads);
  segments = segmentsOf(variables.map((v) => v.size), ...stretch);
  segmentVariables = segments.map((s, k) => tf.variable(tf.zeros([s.to - s.from]), false, `cohort_worker${index}_segment${k}`));
  return { kind: "ready", backend: backend.name };
}

/** A fit starts: the segments take the published weights, the optimizer the main thread's state. */
async function begin(message: BeginMessage): Promise<WorkerReply> {
  optimizer?.dispose();
  optimizer = undefined;
  const built = buildOptimizer(message.optimizer);
  const state = sliceState(message.state, segments);
  shard = ElementwiseShard.of(built, segments, ...stretch, state);
  if (!shard) {
    segments.forEach((s, k) => tf.tidy(() => segmentVariables[k].assign(tf.tensor(weights.subarray(s.at, s.at + s.to - s.from)))));
    await writeState(built, segmentVariables.map((v) => v.name), state);
  }
  optimizer = built;
  return { kind: "begun" };
}

/** A fit ends: the optimizer state of this worker's segments, for the main thread's optimizer. */
async function end(): Promise<WorkerReply> {
  const state = shard ? shard.state() : optimizer ? await readState(optimizer, segmentVariables.map((v) => v.name)) : { iterations: 0, slots: [] };
  optimizer?.dispose();
  optimizer = undefined;
  shard = undefined;
  return { kind: "state", state, segments };
}

function step(message: StepMessage): WorkerReply {
  const started = performance.now();
  const t0 = threadTimes();
  let result: { loss: number; correct: number } | undefined;
  let failure: unknown;
  try {
    result = gradient(message);
  } catch (err) {
    failure = err;
  }
  const t1 = threadTimes();
  // The reduce needs every worker's gradient: wait for them, then add up this worker's stretch.
  // A worker that failed still arrives, so that the others do not wait for it forever, and says
  // so first: then no worker steps the optimizer, and the weights stay as they were.
  if (!result) Atomics.store(barrier, 1, 1);
  const arrived = performance.now();
  arriveAndWait(barrier, threads);
  const waited = performance.now();
  if (!result) throw failure;
  const [from, to] = stretch;
  sumStretch(grads, threads, sum, from, to);
  const t2 = threadTimes();
  if (optimizer && Atomics.load(barrier, 1) === 0) {
    if (shard) shard.step(sum.subarray(from, to), weights.subarray(from, to));
    else stepOptimizer(optimizer);
  }
  const t3 = threadTimes();
  const times: WorkerStepTimes = {
    ms: performance.now() - started,
    computeCpuMs: t0 && t1 ? t1.cpuMs - t0.cpuMs : undefined,
    barrierMs: waited - arrived,
    reduceCpuMs: t1 && t2 ? t2.cpuMs - t1.cpuMs : undefined,
    optimizerCpuMs: t2 && t3 ? t3.cpuMs - t2.cpuMs : undefined,
    runQueueMs: t0?.waitMs !== undefined && t3?.waitMs !== undefined ? t3.waitMs - t0.waitMs : undefined,
  };
  return { kind: "step", ...result, times };
}

/**
 * Steps the optimizer on this worker's segments with their stretch of the summed gradient and
 * writes the new values into the shared weights: every worker has read the weights for this step
 * before the barrier, and the main thread sends the next step only after every reply.
 */
function stepOptimizer(stepping: tf.Optimizer): void {
  if (segments.length === 0) return;
  tf.tidy(() => {
    const named: tf.NamedTensorMap = {};
    segments.forEach((s, k) => {
      named[segmentVariables[k].name] = tf.tensor(sum.subarray(s.at, s.at + s.to - s.from));
    });
    stepping.applyGradients(named);
  });
  segments.forEach((s, k) => weights.set(heapView(segmentVariables[k]), s.at));
}

/** Writes the gradient of this worker's slice, scaled by its share of the batch, to its buffer. */
function gradient(message: StepMessage): { loss: number; correct: number } {
  const mine = grads[index];
  // A batch with fewer rows than workers leaves this one none: it adds nothing to the sum.
  if (message.xShape[0] === 0) {
    mine.fill(0);
    return { loss: 0, correct: 0 };
  }
  if (message.noiseSeeds) setNoiseSeeds(noiseLayers, message.noiseSeeds);
  let offset = 0;
  for (const v of variables) {
    tf.tidy(() => v.assign(tf.tensor(weights.subarray(offset, offset + v.size), v.shape, "float32")));
    offset += v.size;
  }
  return tf.tidy(() => {
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
      mine.set(heapView(g[v.name]), at);
      at += v.size;
    }
    return { loss: value.dataSync()[0], correct };
  });
}

/**
 * The tensor's values in the wasm heap, read in place: dataSync would copy each gradient into a
 * fresh buffer every step (4.7 MB for the seed CNN's dense kernel), and the garbage collector's
 * threads then took cores from the workers. Only valid until the next wasm allocation.
 */
function heapView(t: tf.Tensor): Float32Array {
  return heap(tf.backend() as unknown as Parameters<typeof heap>[0], t);
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
