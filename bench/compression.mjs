// Compressed updates (hyperparams.global.compression): the error of the FedAvg aggregate when
// the parties' updates travel as float16 or int8 differences from the global model, against the
// same aggregate from float32 updates. Real training: 3 parties train the demo CNN on their MNIST
// shards from the same global model (wasm backend); each update goes through the party's encoder
// and the aggregator's streaming decoder, then WeightedSum (FedAvg by example count).
// Figures per encoding: compress_<enc>_rel_error = max|agg_enc - agg_f32| / max|agg_f32 - global|
// (the error relative to the size of the round's step), compress_<enc>_bytes_ratio (upload bytes
// vs float32) and compress_<enc>_accuracy_delta (held-out accuracy, agg_enc minus agg_f32).
import { loadDataset } from "@cohort/data";
import { UpdateStaging, WeightedSum } from "@cohort/fusion";
import { createMnistCnn, getWeights, selectBackend, setWeights } from "@cohort/models";
import { TfjsLearner } from "@cohort/party";
import { encodeWeights, manifestOf, packWeights, unpackWeights } from "@cohort/tensors";
import { UpdateDecoder } from "@cohort/wire";
import { tempDir } from "./lib/common.mjs";

const PARTIES = 3;

export async function compressionError({ full }) {
  await selectBackend("wasm");
  const model = createMnistCnn();
  const global = getWeights(model).map((t) => ({ ...t, data: t.data.slice() }));
  const manifest = manifestOf(global);
  const learners = [];
  for (let i = 0; i < PARTIES; i++) {
    const dataset = await loadDataset({ name: "mnist", info: { party_index: i, num_parties: PARTIES } });
    learners.push(new TfjsLearner(model, dataset, "wasm", `party${i}`));
  }
  const updates = [];
  for (const learner of learners) {
    setWeights(model, global);
    const result = await learner.train({ epochs: 1, batchSize: 32, validationSplit: 0, ...(full ? {} : { stepsPerEpoch: 40 }) });
    updates.push({ weights: getWeights(model), examples: result.numExamples });
  }

  const staging = new UpdateStaging({ dir: await tempDir("compression"), memoryBudgetBytes: 64 * 1024 * 1024 });
  const globalBytes = packWeights(global);
  const aggregate = async (encoding) => {
    const sum = new WeightedSum(manifest);
    let wire = 0;
    for (const { weights, examples } of updates) {
      const encoded = packWeights(encodeWeights(weights, global, encoding));
      wire += encoded.byteLength;
      const plain = encoding === "float32" ? encoded : new UpdateDecoder(manifest, encoding, globalBytes).push(encoded);
      const writer = await staging.begin(plain.byteLength);
      await writer.write(plain);
      const staged = await writer.commit();
      await sum.fold(staged, examples);
      await staged.release();
    }
    return { values: sum.result(), wire };
  };
  const evaluate = async (bytes) => {
    setWeights(model, unpackWeights(manifest, bytes));
    let correct = 0;
    let count = 0;
    for (const learner of learners) {
      const { numExamples, metrics } = await learner.evaluate();
      correct += metrics.accuracy * numExamples;
      count += numExamples;
    }
    return correct / count;
  };

  const reference = await aggregate("float32");
  const referenceAccuracy = await evaluate(reference.values);
  const ref = new Float32Array(reference.values.buffer, reference.values.byteOffset, reference.values.byteLength / 4);
  const base = new Float32Array(globalBytes.buffer, globalBytes.byteOffset, globalBytes.byteLength / 4);
  let step = 0;
  for (let i = 0; i < ref.length; i++) step = Math.max(step, Math.abs(ref[i] - base[i]));

  const figures = {};
  const details = [`float32: ${reference.wire} bytes per round, accuracy ${referenceAccuracy.toFixed(4)}, largest step ${step.toExponential(2)}`];
  for (const encoding of ["float16", "int8"]) {
    const { values, wire } = await aggregate(encoding);
    const got = new Float32Array(values.buffer, values.byteOffset, values.byteLength / 4);
    let worst = 0;
    for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i] - ref[i]));
    const accuracy = await evaluate(values);
    figures[`compress_${encoding}_rel_error`] = worst / step;
    figures[`compress_${encoding}_bytes_ratio`] = wire / reference.wire;
    figures[`compress_${encoding}_accuracy_delta`] = accuracy - referenceAccuracy;
    details.push(`${encoding}: ${wire} bytes, max abs error ${worst.toExponential(2)}, accuracy ${accuracy.toFixed(4)}`);
  }
  return { figures, detail: `${PARTIES} parties, demo CNN (${base.length} params), 1 round${full ? "" : " of 40 batches each"}; ${details.join("; ")}` };
}
