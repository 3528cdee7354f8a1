import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { loadDataset } from "@cohort/data";
import type { ModelSection } from "@cohort/config";
import { type ModelSpecSection, loadKerasSavedModel, loadLayersModelFromFile, loadModelFromSpec, selectBackend, tf } from "@cohort/models";
import { aggregatorModelHooks } from "../packages/cli/src/model-hooks.js";
import { TfjsLearner } from "@cohort/party";
import { runParties, startAggregator, testLogger } from "./helpers/federation.js";

/**
 * SavedModels without a Keras config (interpreted graphs) in a real federation: each corpus
 * model, loaded through loadModelFromSpec as a party config's `model` section loads it, trains
 * 2 rounds on MNIST shards with 3 parties over loopback gRPC, and the aggregator exports the
 * final model as model.json and as a SavedModel directory.
 */

const repoRoot = path.resolve(fileURLToPath(import.meta.url), "../..");
const corpus = path.join(repoRoot, "packages/models/test-fixtures/savedmodel");
const PARTIES = 3;

const cleanup: (() => void)[] = [];
let backend = "";
beforeAll(async () => { backend = (await selectBackend("auto")).name; });
afterEach(() => { cleanup.splice(0).forEach((f) => f()); });

async function federate(section: ModelSpecSection, maxExamples: number): Promise<{ accuracies: number[]; outputDir: string; exported: string[] }> {
  const learners = await Promise.all(Array.from({ length: PARTIES }, async (_, i) => {
    const dataset = await loadDataset({ name: "mnist", info: { party_index: i, num_parties: PARTIES, max_examples: maxExamples } }, { baseDir: repoRoot });
    return new TfjsLearner(await loadModelFromSpec(section), dataset, backend, `party${i}`);
  }));
  const hooks = aggregatorModelHooks({ model: section as ModelSection, log: testLogger("aggregator") });
  const { aggregator, port, outputDir } = await startAggregator({ rounds: 2, local: { epochs: 1, batchSize: 16, validationSplit: 0 } }, { exportModel: hooks.exportModel });
  cleanup.push(() => aggregator.forceClose());
  const started = performance.now();
  const { lines, summary } = await runParties(aggregator, port, outputDir, learners, cleanup);
  const accuracies = lines.map((l) => l.eval.accuracy as number);
  console.log(`${section.spec.model_definition} (${backend}): eval accuracy by round ${accuracies.map((a) => a.toFixed(4)).join(", ")} in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  expect(lines).toHaveLength(2);
  expect(lines[0]!.examples).toBe(PARTIES * maxExamples);
  return { accuracies, outputDir, exported: summary.exported };
}

describe("SavedModels without a Keras config train in a federation (MNIST shards, 3 parties, 2 rounds)", () => {
  /** The interpreted ones carry no training config; the TF 2.4-layout one trains with its own (Adam, categorical_crossentropy). */
  const adam = { compile_model_options: { optimizer: "adam", lr: 0.01, loss: "categorical_crossentropy", metrics: ["accuracy"] } };
  const compileOptions: Record<string, object> = { "tf-module": adam, "keras3-export": adam, "tf24-layout-mlp": {} };
  for (const name of Object.keys(compileOptions)) {
    it(`${name} (TensorFlowFLModel${name === "tf24-layout-mlp" ? ", its saved training_config" : ", compile_model_options adam + categorical_crossentropy"})`, async () => {
      expect(existsSync(path.join(corpus, name, "saved_model.pb"))).toBe(true);
      const section = { name: "TensorFlowFLModel", spec: { model_definition: name, ...compileOptions[name] }, specBaseDir: corpus };
      const { accuracies: [first, second], outputDir, exported } = await federate(section, 300);
      expect(second).toBeGreaterThan(first!);
      // Measured (2 cores, wasm): tf-module 0.76-0.83 then 0.85-0.87, keras3-export 0.68-0.72 then
      // 0.81-0.85; the MLP at its saved Adam lr 0.001 is slower: 0.22 then 0.46. Chance is 0.1.
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
