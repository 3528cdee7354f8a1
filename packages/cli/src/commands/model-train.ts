/**
 * `cohort model train SPEC --data FILE`: trains a model locally, without a federation, the way a
 * party trains it (same loader, same learner, same optimizer), prints each epoch's metrics and
 * the test split's, and writes the model in the formats a federation's aggregator exports.
 */
import path from "node:path";
import { type Dataset, loadDataset, loadNpz } from "@cohort/data";
import { type BackendPreference, loadModelFromSpec, selectBackend } from "@cohort/models";
import { TfjsLearner } from "@cohort/party";
import { createLogger } from "@cohort/telemetry";
import { packWeights } from "@cohort/tensors";
import { aggregatorModelHooks } from "../model-hooks.js";
import { ModelCommandError, resolveModelSpec } from "./model.js";

export interface ModelTrainOptions {
  data: string;
  name?: string;
  backend?: BackendPreference;
  epochs?: number;
  batchSize?: number;
  /** false: batches in file order (with a model without dropout, two runs give the same weights). */
  shuffle?: boolean;
  lr?: number;
  /** Multiplies x; integer-typed npz images default to 1/255, as IBM FL's MNIST handlers do. */
  xScale?: number;
  out?: string;
}

const IMAGE_SCALE = 1 / 255;

/** IBM FL's npz (x_train, y_train, x_test, y_test) or a csv (label in the last column unless said otherwise). */
async function loadTrainingData(file: string, xScale: number | undefined): Promise<Dataset> {
  const ext = path.extname(file).toLowerCase();
  const ctx = { baseDir: process.cwd() };
  const info = { ...(xScale !== undefined ? { x_scale: xScale } : {}) };
  if (ext === ".npz") return loadNpz({ npz_file: path.resolve(file), ...info }, ctx, "npz", { integerXScale: IMAGE_SCALE });
  if (ext === ".csv") return loadDataset({ name: "csv", info: { file: path.resolve(file), ...info } }, ctx);
  throw new ModelCommandError(`${file}: --data takes an .npz (IBM FL's x_train, y_train, x_test, y_test) or a .csv file`);
}

/**
 * Grayscale images stored without a channel axis ([n, h, w]) get one where the model wants it:
 * first for NCHW models ([?, 1, h, w], PyTorch and ONNX), last otherwise. No data moves.
 */
export function fitChannelAxis(dataset: Dataset, inputShape: (number | null)[]): void {
  if (inputShape.length !== 4 || dataset.train.xShape.length !== 3) return;
  const nchw = inputShape[1] === 1 && inputShape[3] !== 1;
  for (const split of [dataset.train, dataset.test]) {
    const [n, h, w] = split.xShape as [number, number, number];
    split.xShape = nchw ? [n, 1, h, w] : [n, h, w, 1];
  }
}

const metricsText = (m: Record<string, number>) => Object.entries(m).map(([k, v]) => `${k} ${v.toFixed(4)}`).join("  ");

export async function runModelTrain(spec: string, options: ModelTrainOptions, print = (l: string) => process.stdout.write(`${l}\n`)): Promise<number> {
  const backend = await selectBackend(options.backend ?? "auto");
  const section = resolveModelSpec(spec, options.name);
  const dataset = await loadTrainingData(options.data, options.xScale);
  const model = await loadModelFromSpec(section);
  fitChannelAxis(dataset, model.inputs[0]!.shape);
  const learner = new TfjsLearner(model, dataset, backend.name, options.data, undefined, { shuffle: options.shuffle ?? true });
  const epochs = options.epochs ?? 1;
  const batchSize = options.batchSize ?? 32;
  print(`${section.name}: ${dataset.description ?? options.data}; ${epochs} epoch(s), batch ${batchSize}${options.shuffle === false ? ", no shuffle" : ""} (${backend.name} backend)`);
  const result = await learner.train({ epochs, batchSize, validationSplit: 0, ...(options.lr !== undefined ? { lr: options.lr } : {}) },
    (epoch, metrics) => print(`epoch ${epoch}/${epochs}  ${metricsText(metrics)}`));
  const test = await learner.evaluate();
  if (test.numExamples > 0) print(`test (${test.numExamples} examples)  ${metricsText(test.metrics)}`);
  print(`trained on ${result.numExamples} examples per epoch in ${result.seconds.toFixed(1)} s`);
  if (options.out) {
    const dir = path.resolve(options.out);
    const weights = learner.getWeights();
    // The aggregator's own exporters: TF.js layers always, ONNX when verified, and the source format.
    // Its warnings (a format left out, and why) go to stderr, as JSON lines.
    const log = createLogger({ service: "model", level: process.env.LOG_LEVEL ?? "warn", destination: { write: (line: string) => process.stderr.write(line) } });
    const exportModel = aggregatorModelHooks({ model: section, log }).exportModel!;
    const files = await exportModel(dir, learner.manifest, packWeights(weights), learner.topology);
    for (const f of files) print(`wrote ${f}`);
  }
  model.dispose();
  return 0;
}
