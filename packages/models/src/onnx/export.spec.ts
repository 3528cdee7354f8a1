import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { selectBackend } from "../backend.js";
import { createKerasMnistCnn, createMnistCnn } from "../mnist-cnn.js";
import { tf, tfl, type LayersModel } from "../tfjs.js";
import { KerasResizing } from "../keras/inference-layers.js";
import { loadKerasModel } from "../keras-source.js";
import { loadTorchSequential } from "../pytorch/source.js";
import { npy, ownFixtures, relError, sharedFixture, sharedFixtures } from "../pytorch/fixture-check.js";
import { OnnxRuntimeModel } from "./ort.js";
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

/** onnxruntime-node's output for `x`. */
async function onnxPredict(file: string, x: tf.Tensor): Promise<tf.Tensor> {
  const session = await OnnxRuntimeModel.load(file);
  try {
    const y = await session.predict({ shape: x.shape, data: Float32Array.from(x.dataSync()) });
    return tf.tensor(y.data, y.shape);
  } finally {
    await session.release();
  }
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

const apply = (layer: { apply(x: tfl.SymbolicTensor | tfl.SymbolicTensor[]): unknown }, x: tfl.SymbolicTensor | tfl.SymbolicTensor[]) => layer.apply(x) as tfl.SymbolicTensor;
type ActivationName = Parameters<typeof tfl.layers.activation>[0]["activation"];

/**
 * A functional (non-Sequential) graph: branches, every merge layer, a layer shared by two
 * calls (two inbound nodes), depthwise / separable convs, both UpSampling2D modes, cropping,
 * rescaling and the activations that need more than one ONNX node.
 */
function functionalGraph(): LayersModel {
  const input = tfl.input({ shape: [12, 10, 3] });
  const scaled = apply(tfl.layers.rescaling({ scale: 2, offset: -1 }), input);
  const a = apply(tfl.layers.conv2d({ filters: 4, kernelSize: 3, padding: "same", activation: "relu" }), scaled);
  const d = apply(tfl.layers.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, strides: 2, padding: "same", activation: "softplus" }), a);
  const s = apply(tfl.layers.separableConv2d({ filters: 8, kernelSize: [3, 2], depthMultiplier: 2, strides: 2, padding: "same", activation: "selu" }), a);
  const dil = apply(tfl.layers.separableConv2d({ filters: 8, kernelSize: 3, dilationRate: 2, padding: "same", useBias: false }), apply(tfl.layers.maxPooling2d({ poolSize: 2 }), a));
  const sum = apply(tfl.layers.add(), [d, s, dil]);
  const shared = tfl.layers.conv2d({ filters: 8, kernelSize: 1, activation: "mish" as ActivationName });
  const prod = apply(tfl.layers.multiply(), [apply(shared, sum), apply(shared, d)]);
  const cat = apply(tfl.layers.concatenate({ axis: -1 }), [
    sum, prod, apply(tfl.layers.maximum(), [d, s]), apply(tfl.layers.minimum(), [d, s]), apply(tfl.layers.average(), [d, s, dil]),
  ]);
  const act = apply(tfl.layers.activation({ activation: "gelu" as ActivationName }), cat);
  const up = apply(tfl.layers.cropping2D({ cropping: [[1, 2], [0, 3]] }), apply(tfl.layers.upSampling2d({ size: [2, 3] }), act));
  const upb = apply(tfl.layers.cropping2D({ cropping: [[1, 2], [0, 3]] }), apply(tfl.layers.upSampling2d({ size: [2, 3], interpolation: "bilinear" }), act));
  let x = apply(tfl.layers.concatenate({ axis: 1 }), [up, upb]);
  x = apply(tfl.layers.activation({ activation: "gelu_new" as ActivationName }), x);
  x = apply(tfl.layers.depthwiseConv2d({ kernelSize: 2, useBias: false, activation: "elu" }), x);
  const pooled = apply(tfl.layers.globalMaxPooling2d({}), x);
  const y = apply(tfl.layers.dense({ units: 5, activation: "softmax" }), apply(tfl.layers.activation({ activation: "softsign" }), pooled));
  return tfl.model({ inputs: input, outputs: y });
}

/** Every Keras model file or SavedModel among the shared fixtures. */
function kerasFixtures(): { rel: string; dir: string; file: string }[] {
  const out: { rel: string; dir: string; file: string }[] = [];
  for (const kind of ["keras", "savedmodel"]) {
    const root = path.join(sharedFixtures, kind);
    if (!existsSync(root)) continue;
    for (const name of readdirSync(root).sort()) {
      const dir = path.join(root, name);
      const file = ["model.h5", "model.keras"].map((f) => path.join(dir, f)).find((f) => existsSync(f)) ?? dir;
      out.push({ rel: `${kind}/${name}`, dir, file });
    }
  }
  return out;
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

  it("a functional graph: branches, merges (Add/Multiply/Average/Maximum/Minimum/Concatenate), a shared layer, depthwise/separable convs, UpSampling2D, Cropping2D, Rescaling, gelu/mish", async () => {
    const model = functionalGraph();
    expect(model.layers.some((l) => l.inboundNodes.length > 1)).toBe(true);
    expect(await roundTrip(model, "functional graph")).toBeLessThanOrEqual(TOLERANCE);
  });

  it("every activation TF.js layers have (Activation layers and Dense/Conv2D activations), each exported on its own", async () => {
    const names = ["relu", "relu6", "elu", "selu", "softplus", "softsign", "sigmoid", "hardSigmoid", "tanh", "swish", "mish", "gelu", "gelu_new", "softmax", "linear"];
    for (const activation of names) {
      const input = tfl.input({ shape: [5, 4, 3] });
      const conv = apply(tfl.layers.conv2d({ filters: 4, kernelSize: 2, activation: activation as ActivationName }), input);
      const act = apply(tfl.layers.activation({ activation: activation as ActivationName }), conv);
      const y = apply(tfl.layers.dense({ units: 3, activation: activation as ActivationName }), apply(tfl.layers.flatten(), act));
      expect(await roundTrip(tfl.model({ inputs: input, outputs: y }), `activation ${activation}`)).toBeLessThanOrEqual(TOLERANCE);
    }
  });

  it("Keras Resizing (crop to aspect ratio, bilinear and nearest) with known and unknown input sizes", async () => {
    for (const interpolation of ["bilinear", "nearest"]) {
      for (const shape of [[20, 13, 2], [null, null, 2]]) {
        const input = tfl.input({ shape });
        const resized = apply(new KerasResizing({ height: 7, width: 9, interpolation, cropToAspectRatio: true }) as unknown as tfl.layers.Layer, input);
        const model = tfl.model({ inputs: input, outputs: apply(tfl.layers.conv2d({ filters: 3, kernelSize: 2 }), resized) });
        expect(await roundTrip(model, `resizing ${interpolation} ${shape.map((d) => d ?? "?").join("x")}`)).toBeLessThanOrEqual(TOLERANCE);
        if (shape[0] === null) {
          // The run-time crop: a tall and a wide input, both cropped before resizing.
          for (const [h, w] of [[23, 11], [10, 31]]) {
            const file = path.join(dir, `resizing_${interpolation}_${h}x${w}.onnx`);
            await saveOnnx(model, file);
            const x = tf.randomUniform([2, h!, w!, 2], 0, 1, "float32", 5);
            const y = await onnxPredict(file, x);
            expect(relError(y, model.predict(x) as tf.Tensor)).toBeLessThanOrEqual(TOLERANCE);
          }
        }
      }
    }
  });

  it("a layer that ONNX export does not know is an error naming its class", async () => {
    const model = tfl.sequential({ layers: [tfl.layers.simpleRNN({ inputShape: [4, 3], units: 2 })] });
    await expect(saveOnnx(model, path.join(dir, "bad.onnx"))).rejects.toThrow(OnnxExportError);
    await expect(saveOnnx(model, path.join(dir, "bad.onnx"))).rejects.toThrow(/SimpleRNN/);
  });

  // Every Keras fixture (h5, .keras, SavedModel) that loads exports: random input against TF.js,
  // and the fixture's own input.npy against expected.npy (the reference computed without TF).
  const fixtures = kerasFixtures();
  if (fixtures.length === 0) it.skip(`Keras fixtures: skipped: ${sharedFixtures} is absent (the shared fixtures live only in ../shared/fixtures beside the repository)`, () => {});
  for (const { rel, dir: fixtureDir, file } of fixtures) {
    it(`Keras fixture ${rel} exports ONNX that matches TF.js and expected.npy`, async () => {
      const model = await loadKerasModel(file);
      expect(await roundTrip(model, rel)).toBeLessThanOrEqual(TOLERANCE);
      const y = await onnxPredict(path.join(dir, `${rel.replace(/\W/g, "_")}.onnx`), npy(path.join(fixtureDir, "input.npy")));
      const err = relError(y, npy(path.join(fixtureDir, "expected.npy")));
      console.log(`onnx export ${rel}: on input.npy, max rel error vs expected.npy ${err.toExponential(2)}`);
      expect(err).toBeLessThanOrEqual(TOLERANCE);
    });
  }

  const own = path.join(ownFixtures, "pytorch");
  const generated = existsSync(own) ? readdirSync(own).filter((n) => existsSync(path.join(own, n, "model.pt"))).map((n) => ({ rel: `generated ${n}`, dir: path.join(own, n), present: true, absent: "" })) : [];
  const shared = ["pytorch/seed_sequential", "pytorch/small_conv_bn", "pytorch/mathoptai-mlp"].map((rel) => ({ rel, ...sharedFixture(rel) }));
  for (const f of [...generated, ...shared]) {
    it.skipIf(!f.present)(`PyTorch-loaded ${f.rel} (NCHW in, as loaded)${f.present ? "" : ` ${f.absent}`}`, async () => {
      const spec = path.join(f.dir, "spec.yml");
      const m = existsSync(spec) ? /^input_shape: \[(.*)\]$/m.exec(readFileSync(spec, "utf8")) : null;
      // Shared fixtures give no input_shape: their input.npy's is the one (as for `cohort model predict`).
      const hint = { shape: npy(path.join(f.dir, "input.npy")).shape.slice(1), from: "input.npy" };
      const model = loadTorchSequential(path.join(f.dir, "model.pt"), { inputShape: m ? m[1]!.split(",").map(Number) : undefined, hint });
      expect(await roundTrip(model, f.rel)).toBeLessThanOrEqual(TOLERANCE);
    });
  }
});
