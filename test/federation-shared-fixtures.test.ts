/**
 * The shared third-party fixtures (../shared/fixtures, see its README) that no other federation
 * test trains: each, loaded through its model section as a party config loads it, trains 2 rounds
 * with 2 in-process parties over loopback gRPC; the global model's held-out accuracy rises
 * (classifiers, on real MNIST digits in the layout the model takes, or a synthetic image task for
 * openmv-cnn) or its held-out mse falls (regression MLPs, on data synthesized here from a known
 * function), and the aggregator exports the final model back in the fixture's own format.
 * (keras224-mnist-cnn: federation-formats.test.ts; tf-house-mlp: federation-savedmodel.test.ts.)
 */
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { type Dataset, loadDataset } from "@cohort/data";
import type { ModelSection } from "@cohort/config";
import { type ModelSpecSection } from "@cohort/models";
import { TfjsLearner, loadModelForData } from "@cohort/party";
import { aggregatorModelHooks } from "../packages/cli/src/model-hooks.js";
import { federationTestHooks, partyList, runParties, startAggregator, testLogger } from "./helpers/federation.js";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
// Third-party files: read in place, never copied into the repository.
const fixtures = path.resolve(repoRoot, "../shared/fixtures");
const PARTIES = 2;

const fed = federationTestHooks();
const { cleanup } = fed;

/** The test title, with the reason for the skip when the fixture file is absent. */
function titled(title: string, file: string): [boolean, string] {
  const present = existsSync(path.join(fixtures, file));
  return [present, present ? title : `${title} skipped: ${path.join(fixtures, file)} is absent (third-party fixture, not in the repository)`];
}

/** A deterministic generator in [0, 1) (LCG), so the synthetic data is the same on every run. */
function uniform(seed: number): () => number {
  let s = seed;
  return () => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
}

/**
 * Real MNIST digits of party i, with each image seen as `shape` (e.g. [28, 28]: no channel axis);
 * `inverted`: 1 - pixel (dark digits on white) and `shifted`: label (digit + 1) mod 10, new tasks
 * for models that already read MNIST digits (about 0.99 accuracy as loaded: no room to rise).
 */
async function mnist(i: number, maxExamples: number, layout: "nhwc" | "nchw", options: { shape?: number[]; inverted?: boolean; shifted?: boolean } = {}): Promise<Dataset> {
  const data = await loadDataset({ name: "mnist", info: { party_index: i, num_parties: PARTIES, max_examples: maxExamples, layout } }, { baseDir: repoRoot });
  const view = (s: Dataset["train"]) => ({
    ...s,
    x: options.inverted ? s.x.map((v) => 1 - v) : s.x,
    xShape: options.shape ? [s.xShape[0]!, ...options.shape] : s.xShape,
    y: options.shifted ? s.y.map((v) => (v + 1) % 10) : s.y,
  });
  return { ...data, train: view(data.train), test: view(data.test) };
}

/** Rows x (`features` wide, drawn by `draw`) with targets f(x): a regression task of known function. */
function regression(seed: number, n: number, features: number, draw: (u: number) => number, f: (x: number[]) => number): Dataset {
  const next = uniform(seed);
  const split = (count: number) => {
    const rows = Array.from({ length: count }, () => Array.from({ length: features }, () => draw(next())));
    return { x: Float32Array.from(rows.flat()), xShape: [count, features], y: Float32Array.from(rows.map(f)), yShape: [count, 1] };
  };
  return { train: split(n), test: split(Math.ceil(n / 4)), description: `synthetic regression, ${n} rows` };
}

interface Federation { before: Record<string, number>; lines: { eval: Record<string, number> }[]; exported: string[]; outputDir: string; seconds: number }

/** 2 rounds, 2 parties; each party's model takes its data's shape (as `cohort party` loads it). */
async function federate(label: string, section: ModelSpecSection, data: (i: number) => Promise<Dataset>, local: { batchSize: number; lr?: number; epochs?: number }): Promise<Federation> {
  const learners = await Promise.all(Array.from({ length: PARTIES }, async (_, i) => {
    const dataset = await data(i);
    return new TfjsLearner(await loadModelForData(section, dataset, `party${i}: data`), dataset, fed.backend, `party${i}`);
  }));
  // The model as loaded, for the rise: the global model after round 1 is already trained.
  const before = (await learners[0]!.evaluate()).metrics as Record<string, number>;
  const hooks = aggregatorModelHooks({ model: section as ModelSection, log: testLogger("aggregator") });
  const { aggregator, port, outputDir } = await startAggregator(
    { rounds: 2, numParties: PARTIES, maxTimeoutMs: 150_000, parties: partyList(PARTIES), local: { epochs: 1, validationSplit: 0, ...local } },
    { exportModel: hooks.exportModel },
  );
  cleanup.push(() => aggregator.forceClose());
  const started = performance.now();
  const { lines, summary } = await runParties(aggregator, port, outputDir, learners, cleanup);
  const seconds = (performance.now() - started) / 1000;
  const show = (m: Record<string, number>) => Object.entries(m).map(([k, v]) => `${k} ${v.toPrecision(4)}`).join(" ");
  console.log(`${label} (${fed.backend}): eval as loaded ${show(before)}; by round ${lines.map((l) => show(l.eval as Record<string, number>)).join(" | ")}; 2 rounds in ${seconds.toFixed(1)} s; exported ${summary.exported.map((f) => path.basename(f)).join(", ")}`);
  expect(lines).toHaveLength(2);
  return { before, lines: lines as Federation["lines"], exported: summary.exported, outputDir, seconds };
}

/** Accuracy rises from the loaded model to round 2, and round 2 is no worse than round 1. */
function expectAccuracyRises({ before, lines }: Federation, floor: number): void {
  const [first, second] = lines.map((l) => l.eval.accuracy!);
  expect(second).toBeGreaterThan(before.accuracy! + 0.1);
  expect(second).toBeGreaterThanOrEqual(first! - 0.02);
  expect(second).toBeGreaterThan(floor);
}

/** Held-out loss (mse) falls from the loaded model to round 1 and again to round 2. */
function expectLossFalls({ before, lines }: Federation): void {
  const [first, second] = lines.map((l) => l.eval.loss!);
  expect(first).toBeLessThan(before.loss!);
  expect(second).toBeLessThan(first!);
}

const exportedFile = (f: Federation, name: string) => path.join(f.outputDir, "model", name);

/**
 * A learnable 5-class task for openmv-cnn's [160, 120, 1] grey input in [0, 255): class k is a
 * bright centred square of side 16 + 20k over dark noise. Size, not place, tells the classes
 * apart: the model's own augmentation layers (random flip, rotation, zoom, contrast) are active
 * in training and would swap squares placed in corners.
 */
function squares(seed: number, n: number): Dataset {
  const next = uniform(seed);
  const split = (count: number) => {
    const x = new Float32Array(count * 160 * 120);
    const y = new Int32Array(count);
    for (let e = 0; e < count; e++) {
      const k = e % 5;
      y[e] = k;
      const half = (16 + 20 * k) / 2;
      for (let r = 0; r < 160; r++) {
        for (let c = 0; c < 120; c++) {
          const inside = Math.abs(r - 80) < half && Math.abs(c - 60) < half;
          x[(e * 160 + r) * 120 + c] = inside ? 200 + 50 * next() : 60 * next();
        }
      }
    }
    return { x, xShape: [count, 160, 120, 1], y, yShape: [count] };
  };
  return { train: split(n), test: split(n / 2), description: `synthetic squares, ${n} images`, numClasses: 5 };
}

describe("the shared fixtures not trained elsewhere train in a federation and export back (2 parties, 2 rounds)", () => {
  const [k3, k3Title] = titled("keras/keras3-mnist-softmax: Keras 3 .keras, [28, 28] digits without a channel axis, labels shifted by one", "keras/keras3-mnist-softmax/model.keras");
  it.skipIf(!k3)(k3Title, async () => {
    const section = { name: "KerasFLModel", spec: { model_definition: "model.keras" }, specBaseDir: path.join(fixtures, "keras/keras3-mnist-softmax") };
    const f = await federate("keras3-mnist-softmax", section, (i) => mnist(i, 300, "nhwc", { shape: [28, 28], shifted: true }), { batchSize: 16, lr: 0.01 });
    expectAccuracyRises(f, 0.6);
    expect(f.exported).toContain(exportedFile(f, "model.keras"));
  }, 120_000);

  const [h5, h5Title] = titled("keras/tf212-house-mlp: Keras 2.12 HDF5 regression MLP, 99 features, targets from a known linear function", "keras/tf212-house-mlp/model.h5");
  it.skipIf(!h5)(h5Title, async () => {
    const section = { name: "KerasFLModel", spec: { model_definition: "model.h5" }, specBaseDir: path.join(fixtures, "keras/tf212-house-mlp") };
    // House prices (~1e7, as the model predicts): a fixed linear function of the 99 features in [0, 1).
    const price = (x: number[]) => 5e6 + x.reduce((s, v, k) => s + v * (k % 3 === 0 ? 3e5 : 5e4), 0);
    const f = await federate("tf212-house-mlp", section, async (i) => regression(10 + i, 160, 99, (u) => u, price), { batchSize: 16, lr: 0.01 });
    expectLossFalls(f);
    expect(f.exported).toContain(exportedFile(f, "model.h5"));
  }, 120_000);

  const [pt, ptTitle] = titled("pytorch/mathoptai-mlp: torch.save nn.Sequential(Linear(1,16), ReLU, Linear(16,1)), MSELoss, on y = (x - 1)^2", "pytorch/mathoptai-mlp/model.pt");
  it.skipIf(!pt)(ptTitle, async () => {
    const dir = path.join(fixtures, "pytorch/mathoptai-mlp");
    const section = { name: "PytorchFLModel", spec: { model_definition: "model.pt", optimizer: "optim.Adam", loss_criterion: "nn.MSELoss", learning_rate: 0.01 }, specBaseDir: dir };
    // It was fitted to x^2 - 2x on [-2, 2]; (x - 1)^2 = x^2 - 2x + 1 is the same curve raised by 1.
    const f = await federate("mathoptai-mlp", section, async (i) => regression(20 + i, 200, 1, (u) => 4 * u - 2, ([x]) => (x! - 1) ** 2), { batchSize: 8 });
    expectLossFalls(f);
    expect(f.exported).toContain(exportedFile(f, "model.pt"));
  }, 120_000);

  for (const name of ["seed_sequential", "small_conv_bn"]) {
    const [present, title] = titled(`pytorch/${name}: torch.save nn.Sequential with its spec.yml, NCHW digits`, `pytorch/${name}/model.pt`);
    it.skipIf(!present)(title, async () => {
      const dir = path.join(fixtures, "pytorch", name);
      const section = { name: "PytorchFLModel", spec: { model_definition: "model.pt", ...(name === "small_conv_bn" ? { optimizer: "optim.SGD", learning_rate: 0.1 } : { optimizer: "optim.Adam" }), loss_criterion: "nn.NLLLoss" }, specBaseDir: dir };
      const f = await federate(name, section, (i) => mnist(i, 300, "nchw"), { batchSize: 16 });
      expectAccuracyRises(f, 0.4);
      expect(f.exported).toContain(exportedFile(f, "model.pt"));
    }, 120_000);
  }

  const [onnx, onnxTitle] = titled("onnx/cntk-mnist: CNTK 2.5 ONNX (opset 7) CNN, logits, NCHW [1, 28, 28] inverted digits", "onnx/cntk-mnist/model.onnx");
  it.skipIf(!onnx)(onnxTitle, async () => {
    const section = { name: "OnnxModel", spec: { model_definition: "model.onnx", optimizer: "optim.Adam", loss_criterion: "nn.CrossEntropyLoss", learning_rate: 0.001 }, specBaseDir: path.join(fixtures, "onnx/cntk-mnist") };
    const f = await federate("cntk-mnist", section, (i) => mnist(i, 300, "nchw", { inverted: true }), { batchSize: 16 });
    expectAccuracyRises(f, 0.6);
    expect(f.exported).toContain(exportedFile(f, "model.onnx"));
  }, 120_000);

  const [mv, mvTitle] = titled("savedmodel/openmv-cnn: TF 2.8 SavedModel, MobileNet 0.25 on [160, 120, 1] grey images, 5 classes (synthetic squares)", "savedmodel/openmv-cnn/saved_model.pb");
  it.skipIf(!mv)(mvTitle, async () => {
    const section = { name: "TensorFlowFLModel", spec: { model_definition: "." }, specBaseDir: path.join(fixtures, "savedmodel/openmv-cnn") };
    // Its BatchNormalization layers keep moving statistics with momentum 0.99: at its saved Adam rate
    // (0.0018) and one epoch the held-out accuracy stayed at chance after 2 rounds although the loss
    // fell; 3 local epochs at 0.003 move them enough (2 at 0.01 did in one run of two).
    const f = await federate("openmv-cnn", section, async (i) => squares(30 + i, 40), { batchSize: 8, epochs: 3, lr: 0.003 });
    // Measured (2 busy cores, wasm, 6 runs at these settings): accuracy 0.20 as loaded, 0.40-0.78
    // after round 2 of 40 held-out images; the loss fell every round (6.44 -> 1.6-3.2 -> 0.7-2.0).
    // Its random augmentation makes runs differ, hence bars against the model as loaded.
    // Round over round the loss fell in 6 runs and rose once in CI (1.749 -> 1.765), so the bars are
    // against the model as loaded: loss well down, accuracy up (0.20 as loaded, 0.40-0.78 seen).
    expect(f.lines[1]!.eval.loss!).toBeLessThan(f.before.loss! * 0.6);
    expect(f.lines[1]!.eval.accuracy).toBeGreaterThan(f.before.accuracy!);
    expect(f.exported).toContain(exportedFile(f, "saved_model"));
  }, 180_000);
});
