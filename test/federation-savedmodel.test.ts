import { existsSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { loadDataset } from "@cohort/data";
import type { ModelSection } from "@cohort/config";
import { type ModelSpecSection, loadKerasSavedModel, loadLayersModelFromFile, loadModelFromSpec, tf } from "@cohort/models";
import { aggregatorModelHooks } from "../packages/cli/src/model-hooks.js";
import { TfjsLearner } from "@cohort/party";
import { federationTestHooks, runParties, startAggregator, testLogger } from "./helpers/federation.js";
import { tempDir } from "./helpers/temp-dirs.js";

/**
 * SavedModels without a Keras config (interpreted graphs) in a real federation: each corpus
 * model, loaded through loadModelFromSpec as a party config's `model` section loads it, trains
 * 2 rounds on MNIST shards with 3 parties over loopback gRPC, and the aggregator exports the
 * final model as model.json and as a SavedModel directory.
 */

const repoRoot = path.resolve(fileURLToPath(import.meta.url), "../..");
const corpus = path.join(repoRoot, "packages/models/test-fixtures/savedmodel");
const PARTIES = 3;

const fed = federationTestHooks();
const { cleanup } = fed;

async function federate(section: ModelSpecSection, maxExamples: number, data?: (i: number) => { name: string; info: Record<string, unknown> }, lr?: number): Promise<{ accuracies: number[]; losses: number[]; outputDir: string; exported: string[] }> {
  const learners = await Promise.all(Array.from({ length: PARTIES }, async (_, i) => {
    const dataset = await loadDataset(data?.(i) ?? { name: "mnist", info: { party_index: i, num_parties: PARTIES, max_examples: maxExamples } }, { baseDir: repoRoot });
    return new TfjsLearner(await loadModelFromSpec(section), dataset, fed.backend, `party${i}`);
  }));
  const hooks = aggregatorModelHooks({ model: section as ModelSection, log: testLogger("aggregator") });
  const { aggregator, port, outputDir } = await startAggregator({ rounds: 2, local: { epochs: 1, batchSize: 16, validationSplit: 0, lr } }, { exportModel: hooks.exportModel });
  cleanup.push(() => aggregator.forceClose());
  const started = performance.now();
  const { lines, summary } = await runParties(aggregator, port, outputDir, learners, cleanup);
  const accuracies = lines.map((l) => l.eval.accuracy as number);
  const losses = lines.map((l) => l.eval.loss as number);
  console.log(`${path.basename(path.resolve(section.specBaseDir, String(section.spec.model_definition)))} (${fed.backend}): eval ${accuracies[0] === undefined ? "" : `accuracy by round ${accuracies.map((a) => a.toFixed(4)).join(", ")}, `}loss ${losses.map((a) => a.toPrecision(4)).join(", ")} in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  expect(lines).toHaveLength(2);
  expect(lines[0]!.examples).toBe(PARTIES * maxExamples);
  return { accuracies, losses, outputDir, exported: summary.exported };
}

describe("SavedModels without a Keras config train in a federation (MNIST shards, 3 parties, 2 rounds)", () => {
  /**
   * tf-module and keras3-export carry no training config; the TF 2.4-layout MLP trains with its
   * own (Adam, categorical_crossentropy), and the guide's subclassed model with the one in its
   * root metadata (Adam, SparseCategoricalCrossentropy(from_logits=True) on its logits), with no
   * extra keys in the spec.
   */
  const adam = { compile_model_options: { optimizer: "adam", lr: 0.01, loss: "categorical_crossentropy", metrics: ["accuracy"] } };
  const compileOptions: Record<string, object> = { "tf-module": adam, "keras3-export": adam, "tf24-layout-mlp": {}, "guide-subclassed": {} };
  for (const name of Object.keys(compileOptions)) {
    const how = { "tf24-layout-mlp": "its saved training_config", "guide-subclassed": "its saved training_config: from-logits loss, Adam" }[name] ?? "compile_model_options adam + categorical_crossentropy";
    it(`${name} (TensorFlowFLModel, ${how})`, async () => {
      expect(existsSync(path.join(corpus, name, "saved_model.pb"))).toBe(true);
      const section = { name: "TensorFlowFLModel", spec: { model_definition: name, ...compileOptions[name] }, specBaseDir: corpus };
      const { accuracies: [first, second], outputDir, exported } = await federate(section, 300);
      expect(second).toBeGreaterThan(first!);
      // Measured (2 cores, wasm): tf-module 0.76-0.83 then 0.85-0.87, keras3-export 0.63-0.78 then
      // 0.81-0.85, guide-subclassed (its saved Adam lr 0.001) 0.48-0.52 then 0.66-0.71; the MLP at its
      // saved Adam lr 0.001 is slower: 0.21-0.30 then 0.43-0.46. Chance is 0.1.
      expect(second).toBeGreaterThan(name === "tf24-layout-mlp" ? 0.3 : 0.5);
      // The final model comes out as TF.js layers (the graph travels in model.json) and as a
      // SavedModel with the trained variables; both predict the same.
      const savedModel = path.join(outputDir, "model", "saved_model");
      expect(exported).toEqual(expect.arrayContaining([path.join(outputDir, "model", "model.json"), savedModel]));
      const x = tf.randomUniform([8, 28, 28, 1], 0, 1, "float32", 5);
      const fromJson = (await loadLayersModelFromFile(path.join(outputDir, "model", "model.json"))).predict(x) as tf.Tensor;
      const fromSavedModel = (await loadKerasSavedModel(savedModel)).predict(x) as tf.Tensor;
      const initial = (await loadKerasSavedModel(path.join(corpus, name))).predict(x) as tf.Tensor;
      const diff = (a: tf.Tensor, b: tf.Tensor) => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!;
      expect(diff(fromJson, fromSavedModel)).toBeLessThanOrEqual(1e-6);
      expect(diff(fromSavedModel, initial)).toBeGreaterThan(1e-3);
    }, 120_000);
  }
});

const house = path.resolve(repoRoot, "../shared/fixtures/savedmodel/tf-house-mlp");
const housePresent = existsSync(path.join(house, "saved_model.pb"));

describe("the shared TF 2.12 SavedModel (Keras config) trains in a federation and exports back", () => {
  it.skipIf(!housePresent)(`tf-house-mlp: a regression MLP (99 features), 3 parties on csv rows, its saved training_config (Adam, mse)${housePresent ? "" : ` skipped: ${house} is absent (third-party fixture, not in the repository)`}`, async () => {
    // Rows whose targets are 0.8x the model's own predictions: a task it can learn in two rounds.
    const model = await loadKerasSavedModel(house);
    const dir = await tempDir("cohort-house-");
    const rng = (seed: number) => () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let i = 0; i < PARTIES; i++) {
      const next = rng(i + 1);
      const x = Array.from({ length: 120 }, () => Array.from({ length: 99 }, next));
      const y = (model.predict(tf.tensor2d(x)) as tf.Tensor).dataSync();
      const rows = x.map((r, k) => [...r.map((v) => v.toFixed(5)), (0.8 * y[k]!).toFixed(1)].join(","));
      writeFileSync(path.join(dir, `party${i}.csv`), `${[...Array.from({ length: 99 }, (_, k) => `f${k}`), "price"].join(",")}\n${rows.join("\n")}\n`);
    }
    const section = { name: "TensorFlowFLModel", spec: { model_definition: "." }, specBaseDir: house };
    const { losses: [first, second], outputDir, exported } = await federate(section, 96, (i) => ({ name: "csv", info: { file: path.join(dir, `party${i}.csv`), label_column: "price", test_split: 0.2 } }), 0.01);
    expect(second).toBeLessThan(first!);
    const savedModel = path.join(outputDir, "model", "saved_model");
    expect(exported).toContain(savedModel);
    const x = tf.randomUniform([8, 99], 0, 1, "float32", 5);
    const fromJson = (await loadLayersModelFromFile(path.join(outputDir, "model", "model.json"))).predict(x) as tf.Tensor;
    const fromSavedModel = (await loadKerasSavedModel(savedModel)).predict(x) as tf.Tensor;
    expect(tf.max(tf.abs(tf.sub(fromJson, fromSavedModel))).dataSync()[0]!).toBeLessThanOrEqual(1e-6 * tf.max(tf.abs(fromJson)).dataSync()[0]!);
  }, 120_000);
});
