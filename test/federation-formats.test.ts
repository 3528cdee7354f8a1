import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { load as parseYaml } from "js-yaml";
import { describe, expect, it } from "vitest";
import { loadDataset } from "@cohort/data";
import { type ModelSpecSection, loadModelFromSpec } from "@cohort/models";
import { TfjsLearner } from "@cohort/party";
import { federationTestHooks, runParties, startAggregator } from "./helpers/federation.js";

/**
 * The seed guide's model formats in a real federation: a Keras 2.2.4 HDF5 file and a
 * `torch.save`d nn.Sequential, each loaded through loadModelFromSpec exactly as a party config's
 * `model` section would load it, train 2 rounds on MNIST shards with 3 parties over loopback gRPC.
 */

const repoRoot = path.resolve(fileURLToPath(import.meta.url), "../..");
// Third-party file without a licence: read in place, never copied into the repository.
const kerasDir = path.resolve(repoRoot, "../shared/fixtures/keras/keras224-mnist-cnn");
const kerasPresent = existsSync(path.join(kerasDir, "model.h5"));
const torchDir = path.join(repoRoot, "packages/models/test-fixtures/pytorch/mnist_cnn");

const PARTIES = 3;

const fed = federationTestHooks();
const { cleanup } = fed;

/**
 * Shards of at most `maxExamples` keep each federation under about 15 s on a 2-core machine with
 * the wasm backend; `lr` (sent by the aggregator) overrides the model's own rate.
 */
interface Run { maxExamples: number; batchSize: number; lr?: number; info?: Record<string, unknown> }

/** Runs 2 rounds and returns the weighted held-out accuracy of the global model after each. */
async function federate(section: ModelSpecSection, settings: Run): Promise<number[]> {
  const learners = await Promise.all(Array.from({ length: PARTIES }, async (_, i) => {
    const dataset = await loadDataset({ name: "mnist", info: { party_index: i, num_parties: PARTIES, max_examples: settings.maxExamples, ...settings.info } }, { baseDir: repoRoot });
    return new TfjsLearner(await loadModelFromSpec(section), dataset, fed.backend, `party${i}`);
  }));
  const { aggregator, port, outputDir } = await startAggregator({ rounds: 2, local: { epochs: 1, batchSize: settings.batchSize, validationSplit: 0, lr: settings.lr } });
  cleanup.push(() => aggregator.forceClose());
  const started = performance.now();
  const { lines } = await runParties(aggregator, port, outputDir, learners, cleanup);
  const accuracies = lines.map((l) => l.eval.accuracy as number);
  console.log(`${section.name} (${fed.backend}): eval accuracy by round ${accuracies.map((a) => a.toFixed(4)).join(", ")} in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  expect(lines).toHaveLength(2);
  expect(lines[0].examples).toBe(PARTIES * settings.maxExamples);
  return accuracies;
}

describe("a federation trains with each of the seed guide's model formats (MNIST shards, 3 parties, 2 rounds)", () => {
  it.skipIf(!kerasPresent)(`Keras 2.2.4 HDF5 full model (KerasFLModel, model_definition: model.h5)${kerasPresent ? "" : ` skipped: ${kerasDir}/model.h5 is absent (third-party fixture, not in the repository)`}`, async () => {
    // Compile settings (Adam lr 0.001, sparse_categorical_crossentropy, acc) come from its training_config.
    const section = { name: "KerasFLModel", spec: { model_definition: "model.h5" }, specBaseDir: kerasDir };
    // It was trained on raw 0..255 pixels: at that scale the file's weights already classify
    // held-out digits (which shows they were read right), so accuracy has no room to rise there.
    const raw = await loadDataset({ name: "mnist", info: { party_index: 0, num_parties: PARTIES, max_examples: 300, scale: 255 } }, { baseDir: repoRoot });
    const pretrained = await new TfjsLearner(await loadModelFromSpec(section), raw, fed.backend, "pretrained").evaluate();
    console.log(`KerasFLModel as trained, on 0..255 pixels: accuracy ${pretrained.metrics.accuracy!.toFixed(4)}`);
    expect(pretrained.metrics.accuracy).toBeGreaterThan(0.95);
    // On [0, 1] pixels its outputs are near uniform (fixtures README), so the federation has to
    // re-learn the input scale; 10x its trained rate does that within two short rounds.
    const [first, second] = await federate(section, { maxExamples: 300, batchSize: 16, lr: 0.01 });
    // Measured (2 cores, wasm): 0.62-0.77 after round 1, 0.83-0.88 after round 2 (7 runs).
    expect(first).toBeGreaterThan(0.4);
    expect(second).toBeGreaterThan(first);
    expect(second).toBeGreaterThan(0.7);
  }, 120_000);

  it("PyTorch nn.Sequential saved with torch.save (PytorchFLModel, optim.Adam, nn.NLLLoss), on NCHW digits", async () => {
    const spec = parseYaml(await readFile(path.join(torchDir, "spec.yml"), "utf8")) as Record<string, unknown>;
    const section = { name: "PytorchFLModel", spec, specBaseDir: torchDir };
    // An untrained CNN (gen.py) trained at the spec's own learning_rate; PyTorch takes NCHW input.
    const [first, second] = await federate(section, { maxExamples: 1000, batchSize: 32, info: { layout: "nchw" } });
    // Measured (2 cores, wasm): 0.67-0.81 after round 1, 0.87-0.89 after round 2 (7 runs); chance is 0.1.
    expect(first).toBeGreaterThan(0.4);
    expect(second).toBeGreaterThan(first);
    expect(second).toBeGreaterThan(0.7);
  }, 120_000);
});
