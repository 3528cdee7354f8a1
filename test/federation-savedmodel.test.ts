import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { loadDataset } from "@cohort/data";
import { type ModelSpecSection, loadModelFromSpec, selectBackend } from "@cohort/models";
import { TfjsLearner } from "@cohort/party";
import { runParties, startAggregator } from "./helpers/federation.js";

/**
 * SavedModels without a Keras config (interpreted graphs) in a real federation: each corpus
 * model, loaded through loadModelFromSpec as a party config's `model` section loads it, trains
 * 2 rounds on MNIST shards with 3 parties over loopback gRPC.
 */

const repoRoot = path.resolve(fileURLToPath(import.meta.url), "../..");
const corpus = path.join(repoRoot, "packages/models/test-fixtures/savedmodel");
const PARTIES = 3;

const cleanup: (() => void)[] = [];
let backend = "";
beforeAll(async () => { backend = (await selectBackend("auto")).name; });
afterEach(() => { cleanup.splice(0).forEach((f) => f()); });

async function federate(section: ModelSpecSection, maxExamples: number): Promise<number[]> {
  const learners = await Promise.all(Array.from({ length: PARTIES }, async (_, i) => {
    const dataset = await loadDataset({ name: "mnist", info: { party_index: i, num_parties: PARTIES, max_examples: maxExamples } }, { baseDir: repoRoot });
    return new TfjsLearner(await loadModelFromSpec(section), dataset, backend, `party${i}`);
  }));
  const { aggregator, port, outputDir } = await startAggregator({ rounds: 2, local: { epochs: 1, batchSize: 16, validationSplit: 0 } });
  cleanup.push(() => aggregator.forceClose());
  const started = performance.now();
  const { lines } = await runParties(aggregator, port, outputDir, learners, cleanup);
  const accuracies = lines.map((l) => l.eval.accuracy as number);
  console.log(`${section.spec.model_definition} (${backend}): eval accuracy by round ${accuracies.map((a) => a.toFixed(4)).join(", ")} in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  expect(lines).toHaveLength(2);
  expect(lines[0]!.examples).toBe(PARTIES * maxExamples);
  return accuracies;
}

describe("SavedModels without a Keras config train in a federation (MNIST shards, 3 parties, 2 rounds)", () => {
  for (const name of ["tf-module", "keras3-export"]) {
    it(`${name} (TensorFlowFLModel, compile_model_options adam + categorical_crossentropy)`, async () => {
      expect(existsSync(path.join(corpus, name, "saved_model.pb"))).toBe(true);
      const section = { name: "TensorFlowFLModel", spec: { model_definition: name, compile_model_options: { optimizer: "adam", lr: 0.01, loss: "categorical_crossentropy", metrics: ["accuracy"] } }, specBaseDir: corpus };
      const [first, second] = await federate(section, 300);
      expect(second).toBeGreaterThan(first!);
      expect(second).toBeGreaterThan(0.5);
    }, 120_000);
  }
});
