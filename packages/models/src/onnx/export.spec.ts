import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { selectBackend } from "../backend.js";
import { createKerasMnistCnn, createMnistCnn } from "../mnist-cnn.js";
import { tfl, type LayersModel } from "../tfjs.js";
import { loadKerasH5 } from "../keras/h5-model.js";
import { loadKeras3 } from "../keras/keras3.js";
import { loadTorchSequential } from "../pytorch/source.js";
import { ownFixtures, sharedFixture } from "../pytorch/fixture-check.js";
import { OnnxExportError, saveOnnx } from "./export.js";
import { readOnnxModel } from "./proto.js";
import { compareOnnxWithTfjs } from "./verify.js";

const TOLERANCE = 1e-5;
const dir = mkdtempSync(path.join(tmpdir(), "cohort-onnx-export-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Exports, re-reads with our own reader (opset), runs in onnxruntime, compares with TF.js. */
async function roundTrip(model: LayersModel, label: string): Promise<number> {
  const file = path.join(dir, `${label.replace(/\W/g, "_")}.onnx`);
  await saveOnnx(model, file);
  expect(readOnnxModel(new Uint8Array(readFileSync(file)), file).opset).toBe(13);
  const { maxRelError } = await compareOnnxWithTfjs(model, file);
  console.log(`onnx export ${label}: max rel error ${maxRelError.toExponential(2)}`);
  return maxRelError;
}

/** Every exportable layer kind in one NHWC model: padding, strides, BN, both pools, Permute/Reshape. */
function everyLayer(): LayersModel {
  const input = tfl.input({ shape: [11, 9, 3] });
  let x = tfl.layers.zeroPadding2d({ padding: [[1, 2], [0, 1]] }).apply(input) as tfl.SymbolicTensor;
  x = tfl.layers.conv2d({ filters: 4, kernelSize: 3, strides: 2, padding: "same", activation: "elu" }).apply(x) as tfl.SymbolicTensor;
  x = tfl.layers.batchNormalization({ epsilon: 1e-3 }).apply(x) as tfl.SymbolicTensor;
  x = tfl.layers.reLU({ maxValue: 6 }).apply(x) as tfl.SymbolicTensor;
  x = tfl.layers.averagePooling2d({ poolSize: 3, strides: 1, padding: "same" }).apply(x) as tfl.SymbolicTensor;
  x = tfl.layers.conv2d({ filters: 5, kernelSize: [2, 3], dilationRate: 2, padding: "same", useBias: false }).apply(x) as tfl.SymbolicTensor;
  x = tfl.layers.leakyReLU({ alpha: 0.1 }).apply(x) as tfl.SymbolicTensor;
  x = tfl.layers.maxPooling2d({ poolSize: 2, padding: "same" }).apply(x) as tfl.SymbolicTensor;
  x = tfl.layers.permute({ dims: [3, 1, 2] }).apply(x) as tfl.SymbolicTensor;
  x = tfl.layers.softmax({ axis: -1 }).apply(x) as tfl.SymbolicTensor;
  x = tfl.layers.permute({ dims: [2, 3, 1] }).apply(x) as tfl.SymbolicTensor;
  const g = tfl.layers.globalAveragePooling2d({}).apply(x) as tfl.SymbolicTensor;
  let y = tfl.layers.reshape({ targetShape: [5, 1] }).apply(g) as tfl.SymbolicTensor;
  y = tfl.layers.flatten().apply(y) as tfl.SymbolicTensor;
  y = tfl.layers.dropout({ rate: 0.5 }).apply(y) as tfl.SymbolicTensor;
  y = tfl.layers.dense({ units: 6, activation: "tanh" }).apply(y) as tfl.SymbolicTensor;
  y = tfl.layers.batchNormalization({ center: false }).apply(y) as tfl.SymbolicTensor;
  y = tfl.layers.activation({ activation: "sigmoid" }).apply(y) as tfl.SymbolicTensor;
  return tfl.model({ inputs: input, outputs: y });
}

describe("saveOnnx: exported models run in onnxruntime-node like TF.js (cpu backend)", () => {
  beforeAll(async () => { await selectBackend("cpu"); });

  it("the demo CNN and the Keras example CNN (with Dropout)", async () => {
    expect(await roundTrip(createMnistCnn(), "demo cnn")).toBeLessThanOrEqual(TOLERANCE);
    expect(await roundTrip(createKerasMnistCnn(), "keras example cnn")).toBeLessThanOrEqual(TOLERANCE);
  });

  it("a model with every supported layer kind, with non-trivial batch-norm statistics", async () => {
    const model = everyLayer();
    for (const layer of model.layers.filter((l) => l.getClassName() === "BatchNormalization")) {
      layer.setWeights(layer.getWeights().map((w, i) => w.add(0.1 * (i + 1)).mul(i % 2 ? 1.5 : 0.7)));
    }
    expect(await roundTrip(model, "every layer")).toBeLessThanOrEqual(TOLERANCE);
  });

  it("a layer that ONNX export does not know is an error naming its class", async () => {
    const model = tfl.sequential({ layers: [tfl.layers.upSampling2d({ inputShape: [4, 4, 1], size: [2, 2] })] });
    await expect(saveOnnx(model, path.join(dir, "bad.onnx"))).rejects.toThrow(OnnxExportError);
    await expect(saveOnnx(model, path.join(dir, "bad.onnx"))).rejects.toThrow(/UpSampling2D/);
  });

  for (const [rel, load] of [
    ["keras/keras224-mnist-cnn", (d: string) => loadKerasH5(path.join(d, "model.h5"))],
    ["keras/tf212-house-mlp", (d: string) => loadKerasH5(path.join(d, "model.h5"))],
    ["keras/keras3-mnist-softmax", (d: string) => loadKeras3(path.join(d, "model.keras"))],
  ] as const) {
    const f = sharedFixture(rel);
    it.skipIf(!f.present)(`Keras fixture ${rel} ${f.present ? "" : f.absent}`, async () => {
      expect(await roundTrip(await load(f.dir), rel)).toBeLessThanOrEqual(TOLERANCE);
    });
  }

  const own = path.join(ownFixtures, "pytorch");
  const generated = existsSync(own) ? readdirSync(own).filter((n) => existsSync(path.join(own, n, "model.pt"))).map((n) => ({ rel: `generated ${n}`, dir: path.join(own, n), present: true, absent: "" })) : [];
  const shared = ["pytorch/seed_sequential", "pytorch/small_conv_bn", "pytorch/mathoptai-mlp"].map((rel) => ({ rel, ...sharedFixture(rel) }));
  for (const f of [...generated, ...shared]) {
    it.skipIf(!f.present)(`PyTorch-loaded ${f.rel} (NCHW in, as loaded) ${f.absent}`, async () => {
      const spec = path.join(f.dir, "spec.yml");
      const m = existsSync(spec) ? /^input_shape: \[(.*)\]$/m.exec(readFileSync(spec, "utf8")) : null;
      const model = loadTorchSequential(path.join(f.dir, "model.pt"), { inputShape: m ? m[1]!.split(",").map(Number) : undefined });
      expect(await roundTrip(model, f.rel)).toBeLessThanOrEqual(TOLERANCE);
    });
  }
});
