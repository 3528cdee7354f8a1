import { readFileSync } from "node:fs";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { selectBackend } from "../backend.js";
import { loadModelFromSpec } from "../model-spec.js";
import { tf } from "../tfjs.js";
import { loadTorchSequential, inputShapeOrigin } from "./source.js";
import { flattenModules } from "./modules.js";
import { layerCandidates } from "./input-shape.js";
import { loadTorchFile } from "./torch-file.js";
import { type PyObject } from "./unpickler.js";
import { npy, ownFixtures, relError, torchCorpus } from "./fixture-check.js";

const corpus = (name: string, file = "model.pt") => path.join(torchCorpus, name, file);
const modulesOf = (file: string) => flattenModules(loadTorchFile(new Uint8Array(readFileSync(file)), file) as PyObject);
const predictError = (file: string, shape: number[]) => {
  const model = loadTorchSequential(file, { hint: { shape, from: "input.npy" } });
  const dir = path.dirname(file);
  return tf.tidy(() => relError(model.predict(npy(path.join(dir, "input.npy"))) as tf.Tensor, npy(path.join(dir, "expected.npy"))));
};

describe("PyTorch input shape: spec, then the caller's hint (data, --input), then the layers if only one fits", () => {
  beforeAll(async () => { await selectBackend("cpu"); });

  it("a Flatten first fits any shape of 784 values: without a hint it is an error listing them and naming input_shape", () => {
    expect(layerCandidates(modulesOf(corpus("flatten_mlp")))).toEqual([[784], [28, 28], [1, 28, 28]]);
    expect(() => loadTorchSequential(corpus("flatten_mlp"))).toThrow(/flatten_mlp\/model\.pt: the input shape is ambiguous: the layers fit \[784\], \[28, 28\], \[1, 28, 28\]; set input_shape in the model spec/);
  });

  it("fed [1, 28, 28] by its data it takes [1, 28, 28] and predicts what PyTorch does", () => {
    const model = loadTorchSequential(corpus("flatten_mlp"), { hint: { shape: [1, 28, 28], from: "data" } });
    expect(model.inputs[0]!.shape).toEqual([null, 1, 28, 28]);
    expect(inputShapeOrigin(model)).toBe("hint");
    expect(predictError(corpus("flatten_mlp"), [1, 28, 28])).toBeLessThanOrEqual(1e-5);
  });

  it("a conv net for 32x32 fits 30 to 33: the error lists them all; with 32x32 data it predicts what PyTorch does", () => {
    expect(layerCandidates(modulesOf(corpus("conv32")))).toEqual([30, 31, 32, 33].map((n) => [1, n, n]));
    expect(() => loadTorchSequential(corpus("conv32"))).toThrow(/ambiguous: the layers fit \[1, 30, 30\], \[1, 31, 31\], \[1, 32, 32\], \[1, 33, 33\]; set input_shape/);
    expect(predictError(corpus("conv32"), [1, 32, 32])).toBeLessThanOrEqual(1e-5);
  });

  it("the seed guide's model fits 28 and 29: ambiguous alone, [1, 28, 28] from MNIST data", () => {
    const file = corpus("guide_sequential", "pytorch_sequence.pt");
    expect(() => loadTorchSequential(file)).toThrow(/fit \[1, 28, 28\], \[1, 29, 29\]; set input_shape/);
    expect(predictError(file, [1, 28, 28])).toBeLessThanOrEqual(1e-5);
  });

  it("a guess is taken when only one shape fits: [features] before a Linear, [C, any, any] before global pooling", () => {
    const mlp = loadTorchSequential(path.join(ownFixtures, "pytorch", "legacy_mlp", "model.pt"));
    expect(mlp.inputs[0]!.shape).toEqual([null, 3]);
    expect(inputShapeOrigin(mlp)).toBe("layers");
    // Global pooling before the Linear: any image size fits, and the model predicts on input.npy's 12x12.
    const pooled = path.join(torchCorpus, "shapes", "global_pool", "model.pt");
    const anySize = loadTorchSequential(pooled);
    expect(anySize.inputs[0]!.shape).toEqual([null, 1, null, null]);
    const dir = path.dirname(pooled);
    expect(tf.tidy(() => relError(anySize.predict(npy(path.join(dir, "input.npy"))) as tf.Tensor, npy(path.join(dir, "expected.npy"))))).toBeLessThanOrEqual(1e-5);
    // The data's shape makes it concrete.
    expect(loadTorchSequential(pooled, { hint: { shape: [1, 16, 16], from: "data" } }).inputs[0]!.shape).toEqual([null, 1, 16, 16]);
  });

  it("a hint that does not fit names where it came from; a channels-last image is told to use NCHW", () => {
    expect(() => loadTorchSequential(corpus("depthwise_pools"), { hint: { shape: [28, 28, 1], from: "party.yml: data (mnist)" } }))
      .toThrow(/model\.pt: the input shape \[28, 28, 1\] from party\.yml: data \(mnist\) does not fit the model: module 0 \(Conv2d\): expects 1 input channels, gets 28; it looks channels-last: PyTorch models take \[C, H, W\] = \[1, 28, 28\] \(for MNIST data set data\.info\.layout: nchw\)/);
    expect(() => loadTorchSequential(corpus("flatten_mlp"), { hint: { shape: [3, 32, 32], from: "x.npy" } }))
      .toThrow(/\[3, 32, 32\] from x\.npy does not fit the model: module 1 \(Linear\): expects \[784\] features, gets \[3072\]/);
  });

  it("the spec's input_shape wins over the hint (the data are then checked against it)", async () => {
    const section = { name: "PytorchFLModel", specBaseDir: path.join(torchCorpus, "conv32"), spec: { model_definition: "model.pt", loss_criterion: "nn.NLLLoss", input_shape: [1, 33, 33] } };
    const model = await loadModelFromSpec(section, { inputShape: { shape: [1, 32, 32], from: "data" } });
    expect(model.inputs[0]!.shape).toEqual([null, 1, 33, 33]);
    expect(inputShapeOrigin(model)).toBe("spec");
    const fromData = await loadModelFromSpec({ ...section, spec: { model_definition: "model.pt", loss_criterion: "nn.NLLLoss" } }, { inputShape: { shape: [1, 32, 32], from: "data" } });
    expect(fromData.inputs[0]!.shape).toEqual([null, 1, 32, 32]);
  });

  it("AdaptiveAvgPool2d(k) where k divides the input: PyTorch's windows are k x k blocks (predicts as PyTorch)", () => {
    expect(predictError(corpus("gelu_adaptive"), [1, 28, 28])).toBeLessThanOrEqual(1e-5);
    expect(() => loadTorchSequential(corpus("gelu_adaptive"), { hint: { shape: [1, 30, 30], from: "x.npy" } }))
      .toThrow(/module 6 \(AdaptiveAvgPool2d\): output_size 3 is supported only as 1 or where it divides the input size \(here \[16, 7, 7\]\)/);
  });

  it("a module without a converter (Conv1d) is refused by name, with the supported list", () => {
    expect(() => loadTorchSequential(path.join(torchCorpus, "unsupported", "conv1d", "model.pt"), { hint: { shape: [2, 8], from: "input.npy" } }))
      .toThrow(/conv1d\/model\.pt: .*module 0 \(Conv1d\): unsupported module torch\.nn\.modules\.conv\.Conv1d; supported: Conv2d .*GELU/);
  });
});
