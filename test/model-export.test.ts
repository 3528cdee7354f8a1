import { existsSync, readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { AggregatorConfig, ModelSection } from "@cohort/config";
import { compareOnnxWithTfjs, getWeights, loadKerasSavedModel, loadLayersModelFromFile, tfl } from "@cohort/models";
import { aggregatorModelHooks } from "../packages/cli/src/model-hooks.js";
import { partyList, runParties, startAggregator, testLogger } from "./helpers/federation.js";
import { mnistLearners } from "./helpers/mnist-learners.js";
import { tempDir } from "./helpers/temp-dirs.js";

const cleanup: (() => void)[] = [];
afterEach(() => { cleanup.splice(0).forEach((f) => f()); });

/** Warnings the hooks log, to check that a skipped format is reported rather than thrown. */
function recordingLogger() {
  const warnings: string[] = [];
  const log = testLogger("aggregator");
  const warn = log.warn.bind(log);
  log.warn = ((obj: unknown, msg?: string) => { warnings.push(`${msg} ${JSON.stringify(obj)}`); return warn(obj as object, msg); }) as typeof log.warn;
  return { log, warnings };
}

/** The initial model of a `model` section, through the same hook the CLI uses. */
async function initialOf(model: ModelSection) {
  const { log } = recordingLogger();
  const initial = await aggregatorModelHooks().initialModel!({ model } as AggregatorConfig, log);
  return initial!;
}

describe("the final model is exported as TF.js, ONNX and the source format", () => {
  it("one round of 2 MNIST parties: model/model.onnx runs in onnxruntime and predicts what model.json predicts", async () => {
    const { log, warnings } = recordingLogger();
    const hooks = aggregatorModelHooks({ log });
    const { aggregator, port, outputDir } = await startAggregator({ rounds: 1, numParties: 2, parties: partyList(2), local: { epochs: 1, batchSize: 32, validationSplit: 0, lr: 0.003 } }, { exportModel: hooks.exportModel });
    cleanup.push(() => aggregator.forceClose());
    const learners = await mnistLearners(2, 300);
    await runParties(aggregator, port, outputDir, learners, cleanup);
    const summary = JSON.parse(await readFile(join(outputDir, "summary.json"), "utf8"));
    const onnxFile = join(outputDir, "model", "model.onnx");
    expect(warnings).toEqual([]);
    expect(summary.exported).toContain(onnxFile);
    const model = await loadLayersModelFromFile(join(outputDir, "model", "model.json"));
    const check = await compareOnnxWithTfjs(model, onnxFile, { batch: 8, seed: 3 });
    console.log(`federated MNIST CNN: model.onnx vs model.json max rel error ${check.maxRelError.toExponential(2)}`);
    expect(check.maxRelError).toBeLessThanOrEqual(1e-5);
  }, 120_000);

  it("a PyTorch spec also gets model.pt (state_dict keys of the nn.Sequential)", async () => {
    const dir = resolve("packages/models/test-fixtures/pytorch/mnist_cnn");
    const section: ModelSection = { name: "PytorchFLModel", spec: { model_definition: "model.pt", input_shape: [1, 28, 28], optimizer: "optim.Adam", loss_criterion: "nn.NLLLoss" }, specBaseDir: dir };
    const initial = await initialOf(section);
    const out = await tempDir("cohort-export-");
    const { log, warnings } = recordingLogger();
    const files = await aggregatorModelHooks({ model: section, log }).exportModel!(out, initial.manifest, initial.bytes, initial.topology);
    expect(warnings).toEqual([]);
    expect(files.map((f) => f.slice(out.length + 1))).toEqual(["model.json", "weights.bin", "model.onnx", "model.pt"]);
    // torch.save's zip layout: an archive/ folder with data.pkl naming the Sequential's keys.
    const pt = readFileSync(join(out, "model.pt")).toString("latin1");
    for (const key of ["0.weight", "0.bias", "3.weight", "7.weight", "7.bias"]) expect(pt).toContain(key);
  });

  it("the aggregator's own PyTorch model has no data: an ambiguous input shape is an error that says to give input_shape", async () => {
    const section: ModelSection = { name: "PytorchFLModel", spec: { model_definition: "model.pt", loss_criterion: "nn.NLLLoss" }, specBaseDir: resolve("test/corpus/pytorch/conv32") };
    await expect(initialOf(section)).rejects.toThrow(/aggregator's model: .*conv32\/model\.pt: the input shape is ambiguous: the layers fit \[1, 30, 30\], \[1, 31, 31\], \[1, 32, 32\], \[1, 33, 33\]; .*\(the aggregator has no data to take the input shape from: give input_shape in its model spec/);
    const initial = await initialOf({ ...section, spec: { ...section.spec, input_shape: [1, 32, 32] } });
    expect(JSON.parse(initial.topology!).config.layers[0].config.batch_input_shape).toEqual([null, 1, 32, 32]);
  });

  const keras = resolve("../shared/fixtures/keras/keras224-mnist-cnn");
  it.skipIf(!existsSync(keras))(`a Keras HDF5 spec also gets model.h5${existsSync(keras) ? "" : ` (skipped: ${keras} is absent)`}`, async () => {
    const section: ModelSection = { name: "KerasFLModel", spec: { model_definition: "model.h5" }, specBaseDir: keras };
    const initial = await initialOf(section);
    const out = await tempDir("cohort-export-");
    const files = await aggregatorModelHooks({ model: section }).exportModel!(out, initial.manifest, initial.bytes, initial.topology);
    expect(files.map((f) => f.slice(out.length + 1))).toEqual(["model.json", "weights.bin", "model.onnx", "model.h5"]);
  });

  const openmv = resolve("../shared/fixtures/savedmodel/openmv-cnn");
  it.skipIf(!existsSync(openmv))(`a SavedModel with Resizing, DepthwiseConv2D and nested models (openmv MobileNet) gets a verified model.onnx and saved_model/${existsSync(openmv) ? "" : ` (skipped: ${openmv} is absent)`}`, async () => {
    const section: ModelSection = { name: "TensorFlowFLModel", spec: { model_definition: ".", compile_model_options: { optimizer: "adam", loss: "categorical_crossentropy" } }, specBaseDir: openmv };
    const initial = await initialOf(section);
    const out = await tempDir("cohort-export-");
    const { log, warnings } = recordingLogger();
    const files = await aggregatorModelHooks({ model: section, log }).exportModel!(out, initial.manifest, initial.bytes, initial.topology);
    expect(warnings).toEqual([]);
    expect(files.map((f) => f.slice(out.length + 1))).toEqual(["model.json", "weights.bin", "model.onnx", "saved_model"]);
    const model = await loadLayersModelFromFile(join(out, "model.json"));
    // The SavedModel export holds the same weights as model.json, under the source's checkpoint keys.
    expect(getWeights(await loadKerasSavedModel(join(out, "saved_model")))).toEqual(getWeights(model));
    const check = await compareOnnxWithTfjs(model, join(out, "model.onnx"), { unknownSize: 40 });
    console.log(`openmv SavedModel: model.onnx vs model.json max rel error ${check.maxRelError.toExponential(2)}`);
    expect(check.maxRelError).toBeLessThanOrEqual(1e-5);
  });

  it("a layer ONNX cannot express is a warning: model.json is written, model.onnx is not, nothing throws", async () => {
    const model = tfl.sequential({ layers: [tfl.layers.simpleRNN({ inputShape: [4, 3], units: 3 }), tfl.layers.dense({ units: 2 })] });
    const topology = JSON.stringify(model.toJSON(undefined, false));
    const { log, warnings } = recordingLogger();
    const { getWeights } = await import("@cohort/models");
    const { packWeights, manifestOf } = await import("@cohort/tensors");
    const weights = getWeights(model);
    const out = await tempDir("cohort-export-");
    const files = await aggregatorModelHooks({ log }).exportModel!(out, manifestOf(weights), packWeights(weights), topology);
    expect(files.map((f) => f.slice(out.length + 1))).toEqual(["model.json", "weights.bin"]);
    expect(existsSync(join(out, "model.onnx"))).toBe(false);
    expect(warnings.join("\n")).toMatch(/SimpleRNN/);
  });
});
