import { copyFileSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { selectBackend } from "../backend.js";
import type { CompileOptions } from "../compile.js";
import { customFunctions, loadKerasFromSpec } from "../keras-source.js";
import { loadModelFromSpec as loadAnyModelFromSpec } from "../model-spec.js";
import { compileWithCustom } from "./build.js";
import { tinyCnn } from "../test-support.js";
import { tf, type LayersModel } from "../tfjs.js";
import { fixture } from "./fixture-support.js";
import { kerasModelJson, saveKerasH5, saveKerasWeightsH5 } from "./h5-export.js";
import { loadKerasH5 } from "./h5-model.js";
import { tempDirSync } from "../../../../test/helpers/temp-dirs.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const freshDir = () => tempDirSync("cohort-keras-");
const x = () => tf.randomUniform([3, 8, 8, 1], 0, 1, "float32", 11);
const predict = (m: LayersModel, input: tf.Tensor) => Array.from((m.predict(input) as tf.Tensor).dataSync());
const cnn = fixture("keras/keras224-mnist-cnn");
const house = fixture("keras/tf212-house-mlp");
const houseSm = fixture("savedmodel/tf-house-mlp");

/**
 * What model-spec.ts' loadModelFromSpec does for these sources (resolve paths against the spec's
 * dir, then apply compile options); called directly so that these tests do not depend on the
 * other model sources registered there.
 */
async function loadModelFromSpec(section: { name: string; spec: Record<string, unknown>; specBaseDir: string }): Promise<LayersModel> {
  const { spec, specBaseDir } = section;
  const model = await loadKerasFromSpec(spec, (key) => path.resolve(specBaseDir, String(spec[key])), specBaseDir, "spec.yml");
  const options = (spec.compile_model_options ?? spec.compiled_options) as CompileOptions | undefined;
  if (options) compileWithCustom(model, options, customFunctions(model));
  return model;
}

function compiledTinyCnn(): LayersModel {
  const m = tinyCnn();
  m.compile({ optimizer: tf.train.adam(0.01), loss: "categoricalCrossentropy", metrics: ["accuracy"] });
  return m;
}

describe("KerasFLModel / TensorFlowFLModel specs", () => {
  beforeAll(async () => {
    await selectBackend("cpu");
  });

  it("round-trips a model through saveKerasH5 and a KerasFLModel spec, compiled from training_config", async () => {
    const dir = freshDir();
    const model = compiledTinyCnn();
    await saveKerasH5(model, path.join(dir, "model.h5"));
    const loaded = await loadModelFromSpec({ name: "KerasFLModel", spec: { model_name: "tiny", model_definition: "model.h5" }, specBaseDir: dir });
    const input = x();
    expect(predict(loaded, input)).toEqual(predict(model, input));
    expect(loaded.optimizer.getClassName()).toBe("Adam");
    expect((loaded.optimizer as unknown as { learningRate: number }).learningRate).toBeCloseTo(0.01);
  });

  it("loads model_architecture + model_weights (save_weights layout) with compile_model_options", async () => {
    const dir = freshDir();
    const model = tinyCnn();
    writeFileSync(path.join(dir, "arch.json"), kerasModelJson(model));
    await saveKerasWeightsH5(model, path.join(dir, "weights.h5"));
    const loaded = await loadModelFromSpec({
      name: "KerasFLModel",
      spec: { model_architecture: "arch.json", model_weights: "weights.h5", compiled_options: { optimizer: "sgd", loss: "categorical_crossentropy", metrics: ["acc"] } },
      specBaseDir: dir,
    });
    const input = x();
    expect(predict(loaded, input)).toEqual(predict(model, input));
    expect(loaded.optimizer.getClassName()).toBe("SGD");
  });

  // The dense house model: a conv fit step on the cpu backend takes seconds.
  it.skipIf(!house.present)(`a loaded tf.keras h5 trains with its training_config: one fit step changes weights, loss finite${house.present ? "" : ` (skipped: ${house.absent})`}`, async () => {
    const model = await loadKerasH5(path.join(house.dir, "model.h5"));
    expect(model.optimizer.getClassName()).toBe("Adam");
    const before = model.getWeights().map((w) => Array.from(w.dataSync()));
    const xs = tf.randomUniform([8, 99], 0, 1, "float32", 3);
    const ys = tf.fill([8, 1], 2e5);
    const history = await model.fit(xs, ys, { epochs: 1, batchSize: 8, verbose: 0 });
    expect(Number.isFinite(history.history.loss[0] as number)).toBe(true);
    const after = model.getWeights().map((w) => Array.from(w.dataSync()));
    expect(after.some((w, i) => w.some((v, j) => v !== before[i][j]))).toBe(true);
  });

  it.skipIf(!cnn.present)(`exports a loaded Keras 2.2.4 model back to h5 with equal predictions${cnn.present ? "" : ` (skipped: ${cnn.absent})`}`, async () => {
    const model = await loadKerasH5(path.join(cnn.dir, "model.h5"));
    const file = path.join(freshDir(), "again.h5");
    await saveKerasH5(model, file);
    const again = await loadKerasH5(file);
    const input = tf.randomUniform([2, 28, 28, 1], 0, 255, "float32", 5);
    expect(predict(again, input)).toEqual(predict(model, input));
  });

  it("registers custom_objects layers and losses; an unregistered class names the class and the spec key", async () => {
    const dir = freshDir();
    const arch = {
      class_name: "Sequential",
      config: { name: "s", layers: [
        { class_name: "Dense", config: { name: "d", units: 2, batch_input_shape: [null, 3], kernel_initializer: { class_name: "Ones", config: {} } } },
        { class_name: "Doubler", config: { name: "twice" } },
      ] },
    };
    writeFileSync(path.join(dir, "arch.json"), JSON.stringify({ model_config: arch, training_config: { optimizer_config: { class_name: "SGD", config: { lr: 0.1 } }, loss: "half_mse" } }));
    const base = { model_architecture: "arch.json" };
    await expect(loadModelFromSpec({ name: "KerasFLModel", spec: base, specBaseDir: dir })).rejects.toThrow(/"Doubler".*custom_objects/);
    const mod = path.relative(dir, path.join(here, "testdata", "doubler-layer.mjs"));
    const model = await loadModelFromSpec({
      name: "KerasFLModel",
      spec: { ...base, custom_objects: [{ key: "Doubler", value: "DoublerLayer", path: mod }, { key: "half_mse", value: "halfMse", path: mod }] },
      specBaseDir: dir,
    });
    expect(predict(model, tf.tensor2d([[1, 2, 3]]))).toEqual([12, 12]);
    const h = await model.fit(tf.tensor2d([[1, 2, 3]]), tf.tensor2d([[0, 0]]), { epochs: 1, verbose: 0 });
    expect(h.history.loss[0]).toBeCloseTo(72); // 0.5 * mean((12-0)^2)
  });

  // Through model-spec.ts' loadModelFromSpec itself: that is where compile_model_options are applied.
  it("a custom loss / metric named only in compile_model_options resolves to the custom_objects function", async () => {
    const dir = freshDir();
    const arch = {
      class_name: "Sequential",
      config: { name: "s", layers: [{ class_name: "Dense", config: { name: "d", units: 2, batch_input_shape: [null, 3], kernel_initializer: { class_name: "Ones", config: {} } } }] },
    };
    writeFileSync(path.join(dir, "arch.json"), JSON.stringify(arch)); // no training_config at all
    const mod = path.relative(dir, path.join(here, "testdata", "doubler-layer.mjs"));
    const custom_objects = [{ key: "half_mse", value: "halfMse", path: mod }];
    const model = await loadAnyModelFromSpec({
      name: "KerasFLModel",
      spec: { model_architecture: "arch.json", custom_objects, compile_model_options: { optimizer: "sgd", lr: 0.01, loss: "half_mse", metrics: ["accuracy", "half_mse"] } },
      specBaseDir: dir,
    });
    const h = await model.fit(tf.tensor2d([[1, 2, 3]]), tf.tensor2d([[0, 0]]), { epochs: 1, verbose: 0 });
    expect(h.history.loss[0]).toBeCloseTo(18); // 0.5 * mean((6-0)^2)
    expect(Object.keys(h.history).sort()).toEqual(["acc", "halfMse", "loss"].sort());
    // Without the custom_objects entry the name is unknown, and the error says where it came from.
    await expect(loadAnyModelFromSpec({ name: "KerasFLModel", spec: { model_architecture: "arch.json", compile_model_options: { optimizer: "sgd", loss: "half_mse" } }, specBaseDir: dir }))
      .rejects.toThrow(/compile_model_options: unknown loss "half_mse"/);
  });

  it("a truncated h5 is a one-line error with libhdf5's reason, and libhdf5 prints nothing (no HDF5-DIAG on stderr)", async () => {
    const dir = freshDir();
    await saveKerasH5(compiledTinyCnn(), path.join(dir, "good.h5"));
    writeFileSync(path.join(dir, "cut.h5"), readFileSync(path.join(dir, "good.h5")).subarray(0, 2000));
    const printed: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    const error = console.error;
    process.stderr.write = ((chunk: string | Uint8Array, ...rest: never[]) => { printed.push(String(chunk)); return write(chunk, ...rest); }) as typeof process.stderr.write;
    console.error = (...args: unknown[]) => { printed.push(args.join(" ")); error(...args); };
    try {
      const err = await loadKerasFromSpec({ model_definition: "cut.h5" }, (k) => path.join(dir, k === "model_definition" ? "cut.h5" : k), dir).then(() => undefined, (e: Error) => e);
      expect(err?.message).toMatch(/cut\.h5: HDF5 file cannot be opened, truncated or corrupt\? \(.*truncated file/);
      expect(err?.message).not.toMatch(/HDF5-DIAG|\n/);
    } finally {
      process.stderr.write = write;
      console.error = error;
    }
    expect(printed.join("")).not.toMatch(/HDF5-DIAG/);
  });

  it("reports bad input before training: truncated, misnamed, unknown layer, corrupt or subclassed SavedModel", async () => {
    const dir = freshDir();
    const spec = (def: string) => ({ name: "KerasFLModel", spec: { model_definition: def }, specBaseDir: dir });
    await saveKerasH5(compiledTinyCnn(), path.join(dir, "good.h5"));
    writeFileSync(path.join(dir, "truncated.h5"), readFileSync(path.join(dir, "good.h5")).subarray(0, 2000));
    await expect(loadModelFromSpec(spec("truncated.h5"))).rejects.toThrow(/truncated\.h5: .*(truncated|corrupt|cannot)/i);
    writeFileSync(path.join(dir, "zip.h5"), Buffer.from("PK\u0003\u0004rest-of-zip"));
    await expect(loadModelFromSpec(spec("zip.h5"))).rejects.toThrow(/zip\.h5: named \.h5 but the content is a zip archive; supported: /);
    writeFileSync(path.join(dir, "text.keras"), "hello");
    await expect(loadModelFromSpec(spec("text.keras"))).rejects.toThrow(/text\.keras: unrecognised content \(named \.keras but not a zip archive\)/);
    writeFileSync(path.join(dir, "odd.json"), JSON.stringify({ class_name: "Sequential", config: { layers: [{ class_name: "Warp", config: { name: "w", batch_input_shape: [null, 2] } }] } }));
    await expect(loadModelFromSpec(spec("odd.json"))).rejects.toThrow(/odd\.json: layer "w" \(Warp\): unknown layer class "Warp".*custom_objects/);
    mkdirSync(path.join(dir, "subclassed"));
    writeFileSync(path.join(dir, "subclassed", "saved_model.pb"), "");
    await expect(loadModelFromSpec({ ...spec("subclassed"), name: "TensorFlowFLModel" })).rejects.toThrow(/subclassed[/\\]saved_model\.pb: not a readable SavedModel \(.*no MetaGraphDef/);
  });

  it.skipIf(!houseSm.present)(`detects a corrupt SavedModel variables file by CRC32C${houseSm.present ? "" : ` (skipped: ${houseSm.absent})`}`, async () => {
    const dir = path.join(freshDir(), "sm");
    mkdirSync(path.join(dir, "variables"), { recursive: true });
    for (const f of ["saved_model.pb", "keras_metadata.pb"]) copyFileSync(path.join(houseSm.dir, f), path.join(dir, f));
    for (const f of readdirSync(path.join(houseSm.dir, "variables"))) copyFileSync(path.join(houseSm.dir, "variables", f), path.join(dir, "variables", f));
    const data = path.join(dir, "variables", "variables.data-00000-of-00001");
    const bytes = readFileSync(data);
    bytes[1000] ^= 0xff;
    writeFileSync(data, bytes);
    await expect(loadModelFromSpec({ name: "TensorFlowFLModel", spec: { model_definition: dir }, specBaseDir: "/" })).rejects.toThrow(/CRC32C mismatch/);
  });
});

