import type { AggregatorConfig } from "@cohort/config";
import type { GlobalEvaluator } from "@cohort/aggregator";
import { type Split, checkInputShape, loadDataset } from "@cohort/data";
import { type LayersModel, loadModelFromSpec, selectBackend, setWeights, tf, tfl } from "@cohort/models";
import { TfjsLearner } from "@cohort/party";
import type { Logger } from "@cohort/telemetry";
import { unpackWeights } from "@cohort/tensors";

/** Rows per forward pass: no gradients are kept, so large batches are cheap. */
const EVAL_BATCH = 256;

/**
 * IBM FL's aggregator evaluates each round's global model on its own held-out data (its config's
 * `data` section). Here: the test split of that data handler, run through the global model. With
 * a `model` section the aggregator knows the model's compile settings, so a TfjsLearner gives
 * the same loss and metrics the parties report; without one (IBM FL's generated aggregator
 * configs have none) the model is rebuilt from the topology the parties sent, which carries no
 * loss, so accuracy alone is reported. Data and model are loaded at the first evaluation.
 */
export function globalEvaluator(config: Pick<AggregatorConfig, "data" | "model" | "file">, log: Logger): GlobalEvaluator | undefined {
  const data = config.data;
  if (!data) return undefined;
  let ready: Promise<{ model: LayersModel; evaluate: () => Promise<{ examples: number; metrics: Record<string, number> }> }> | undefined;
  const where = `${config.file}: data (the aggregator's held-out data)`;

  const prepare = async (topology: string | undefined) => {
    const backend = await selectBackend("auto");
    const dataset = await loadDataset(data, { baseDir: data.baseDir });
    log.info({ phase: "evaluate", evaluator: "aggregator", data: dataset.description, test_examples: dataset.test.xShape[0] }, "aggregator's held-out data loaded");
    if (config.model) {
      const model = await loadModelFromSpec(config.model);
      // Only the test split is evaluated; the learner wants a train split too, so it gets the same one.
      const learner = new TfjsLearner(model, { ...dataset, train: dataset.test }, backend.name, where);
      return { model, evaluate: async () => { const r = await learner.evaluate(); return { examples: r.numExamples, metrics: r.metrics }; } };
    }
    if (!topology) throw new Error("no model to evaluate: the config has no model section and no party sent a topology");
    const model = await tfl.models.modelFromJSON({ modelTopology: JSON.parse(topology) as object } as never);
    checkInputShape(dataset.test, model.inputs[0]!.shape, where);
    return { model, evaluate: async () => ({ examples: dataset.test.xShape[0]!, metrics: { accuracy: await accuracyOf(model, dataset.test) } }) };
  };

  return async (_round, manifest, bytes, topology) => {
    ready ??= prepare(topology);
    const { model, evaluate } = await ready;
    setWeights(model, unpackWeights(manifest, bytes));
    return evaluate();
  };
}

/** The fraction of examples whose highest output is their class (one output: above 0.5 for class 1). */
export async function accuracyOf(model: LayersModel, split: Split): Promise<number> {
  const count = split.xShape[0]!;
  const perExample = split.xShape.slice(1).reduce((a, b) => a * b, 1);
  const classes = (i: number) => split.y instanceof Int32Array ? split.y[i]! : argmaxRow(split.y, split.yShape, i);
  let correct = 0;
  for (let at = 0; at < count; at += EVAL_BATCH) {
    const size = Math.min(EVAL_BATCH, count - at);
    const predicted = tf.tidy(() => {
      const x = tf.tensor(split.x.subarray(at * perExample, (at + size) * perExample), [size, ...split.xShape.slice(1)], "float32");
      const out = model.predict(x) as tf.Tensor;
      return out.shape[out.shape.length - 1] === 1 ? tf.cast(tf.greater(tf.reshape(out, [size]), 0.5), "int32") : tf.argMax(out, -1);
    });
    const values = await predicted.data();
    predicted.dispose();
    for (let i = 0; i < size; i++) if (values[i] === classes(at + i)) correct++;
  }
  return count === 0 ? 0 : correct / count;
}

function argmaxRow(y: Float32Array, shape: number[], row: number): number {
  const width = shape[1] ?? 1;
  if (width === 1) return y[row]! > 0.5 ? 1 : 0;
  let best = 0;
  for (let c = 1; c < width; c++) if (y[row * width + c]! > y[row * width + best]!) best = c;
  return best;
}
