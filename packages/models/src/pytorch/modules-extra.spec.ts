/**
 * Conversions with no torch-made fixture (torch is not installed here): nn.Sequential objects
 * built as the unpickler builds them, checked against plain-JS PyTorch semantics.
 * Depthwise Conv2d (groups = in_channels), Max/AvgPool2d ceil_mode, channel-wise Dropout2d.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { selectBackend } from "../backend.js";
import { tf } from "../tfjs.js";
import { getWeights } from "../weights.js";
import { buildFromModules, flattenModules } from "./modules.js";
import { loadTorchSequential } from "./source.js";
import { saveTorchStateDict } from "./state-dict.js";
import { loadTorchFile, type TorchTensor } from "./torch-file.js";
import { ownFixtures, relError } from "./fixture-check.js";
import { PyObject } from "./unpickler.js";
import { saveOnnx } from "../onnx/export.js";
import { loadOnnxAsLayers } from "../onnx/source.js";
import { compareOnnxWithTfjs } from "../onnx/verify.js";
import { tempDirSync } from "../../../../test/helpers/temp-dirs.js";

const tensor = (shape: number[], seed: number): TorchTensor => ({ kind: "tensor", dtype: "float32", shape, data: tf.randomNormal(shape, 0, 1, "float32", seed).dataSync() as Float32Array } as TorchTensor);

function module(type: string, attrs: Record<string, unknown>, params: Record<string, TorchTensor> = {}): PyObject {
  const m = new PyObject(`torch.nn.modules.x.${type}`, []);
  m.state = new Map<string, unknown>([["_parameters", new Map(Object.entries(params))], ["_buffers", new Map()], ["_modules", new Map()], ...Object.entries(attrs)]);
  return m;
}
function sequential(...children: PyObject[]): PyObject {
  const m = new PyObject("torch.nn.modules.container.Sequential", []);
  m.state = new Map<string, unknown>([["_modules", new Map(children.map((c, i) => [String(i), c]))]]);
  return m;
}
const at = (t: TorchTensor, idx: number[]) => (t.data as Float32Array)[idx.reduce((a, v, d) => a * t.shape[d]! + v, 0)]!;

/** PyTorch's grouped conv2d (NCHW, zero padding), in plain JS. */
function torchConv(x: tf.Tensor, w: TorchTensor, b: TorchTensor | undefined, groups: number, stride: number, pad: number): tf.Tensor {
  const [n, c, h, wd] = x.shape as number[];
  const [o, cg, kh, kw] = w.shape as number[];
  const xd = x.dataSync();
  const oh = Math.floor((h! + 2 * pad - kh!) / stride) + 1, ow = Math.floor((wd! + 2 * pad - kw!) / stride) + 1;
  const out = new Float32Array(n! * o! * oh * ow);
  for (let s = 0; s < n!; s++) for (let oc = 0; oc < o!; oc++) for (let i = 0; i < oh; i++) for (let j = 0; j < ow; j++) {
    const g = Math.floor(oc / (o! / groups));
    let acc = b ? at(b, [oc]) : 0;
    for (let ci = 0; ci < cg!; ci++) for (let u = 0; u < kh!; u++) for (let v = 0; v < kw!; v++) {
      const y = i * stride + u - pad, z = j * stride + v - pad;
      if (y >= 0 && y < h! && z >= 0 && z < wd!) acc += xd[((s * c! + g * cg! + ci) * h! + y) * wd! + z]! * at(w, [oc, ci, u, v]);
    }
    out[((s * o! + oc) * oh + i) * ow + j] = acc;
  }
  return tf.tensor(out, [n!, o!, oh, ow]);
}

/** PyTorch's max / avg pool with ceil_mode=True and no padding: windows clipped to the input. */
function torchPoolCeil(x: tf.Tensor, k: number, s: number, kind: "max" | "avg"): tf.Tensor {
  const [n, c, h, w] = x.shape as number[];
  const size = (len: number) => { const o = Math.ceil((len - k) / s) + 1; return (o - 1) * s >= len ? o - 1 : o; };
  const [oh, ow] = [size(h!), size(w!)];
  const xd = x.dataSync();
  const out = new Float32Array(n! * c! * oh * ow);
  for (let p = 0; p < n! * c!; p++) for (let i = 0; i < oh; i++) for (let j = 0; j < ow; j++) {
    const vals: number[] = [];
    for (let y = i * s; y < Math.min(i * s + k, h!); y++) for (let z = j * s; z < Math.min(j * s + k, w!); z++) vals.push(xd[(p * h! + y) * w! + z]!);
    out[(p * oh + i) * ow + j] = kind === "max" ? Math.max(...vals) : vals.reduce((a, v) => a + v, 0) / vals.length;
  }
  return tf.tensor(out, [n!, c!, oh, ow]);
}

describe("PyTorch conversions: depthwise Conv2d, pool ceil_mode, Dropout2d (cpu backend)", () => {
  beforeAll(async () => { await selectBackend("cpu"); });

  it("Conv2d with groups = in_channels becomes a DepthwiseConv2D: PyTorch's output, trains, and writes back the grouped weight", async () => {
    const w1 = tensor([6, 1, 3, 3], 1), b1 = tensor([6], 2), w2 = tensor([3, 2, 2, 2], 3);
    const seq = sequential(
      module("Conv2d", { groups: 3, stride: [1, 1], padding: [1, 1], dilation: [1, 1], padding_mode: "zeros" }, { weight: w1, bias: b1 }),
      module("Conv2d", { groups: 3, stride: [2, 2], padding: [0, 0], dilation: [1, 1], padding_mode: "zeros" }, { weight: w2 }),
    );
    // The second one is groups=3 on 6 channels: 2 inputs per group, not depthwise.
    expect(() => buildFromModules(flattenModules(seq), [3, 9, 8], "m")).toThrow(/module 1 \(Conv2d\): groups=3 is not supported \(only 1, or groups = in_channels/);
    const w3 = tensor([6, 1, 2, 2], 3);
    const ok = sequential(
      module("Conv2d", { groups: 3, stride: [1, 1], padding: [1, 1], dilation: [1, 1], padding_mode: "zeros" }, { weight: w1, bias: b1 }),
      module("Conv2d", { groups: 6, stride: [2, 2], padding: [0, 0], dilation: [1, 1], padding_mode: "zeros" }, { weight: w3 }),
    );
    const { model } = buildFromModules(flattenModules(ok), [3, 9, 8], "m");
    expect(model.layers.map((l) => l.getClassName())).toContain("DepthwiseConv2D");
    const x = tf.randomUniform([2, 3, 9, 8], -1, 1, "float32", 4);
    const expected = torchConv(torchConv(x, w1, b1, 3, 1, 1), w3, undefined, 6, 2, 0);
    expect(relError(model.predict(x) as tf.Tensor, expected)).toBeLessThanOrEqual(1e-5);
    model.compile({ optimizer: tf.train.sgd(0.01), loss: "meanSquaredError" });
    const before = getWeights(model);
    const h = await model.fit(x, tf.zerosLike(expected), { epochs: 1, verbose: 0 });
    expect(Number.isFinite(h.history.loss![0] as number)).toBe(true);
    expect(getWeights(model).some((t, i) => t.data.some((v, k) => v !== before[i]!.data[k]))).toBe(true);
  });

  it("a depthwise Conv2d's state_dict entry goes back to PyTorch's [C*M, 1, kh, kw] layout", () => {
    const w = tensor([4, 1, 3, 2], 5), b = tensor([4], 6);
    const seq = sequential(module("Conv2d", { groups: 2, stride: [1, 1], padding: "same", dilation: [1, 1], padding_mode: "zeros" }, { weight: w, bias: b }));
    const { model, torchKeys } = buildFromModules(flattenModules(seq), [2, 5, 5], "m");
    expect(torchKeys.map((k) => k.kind)).toEqual(["depthwise"]);
    // saveTorchStateDict finds the keys of models loaded through loadTorchSequential; layer indices otherwise.
    const file = path.join(tempDirSync("cohort-dw-"), "state.pt");
    saveTorchStateDict(model, file);
    const back = loadTorchFile(new Uint8Array(readFileSync(file)), file) as Map<string, TorchTensor>;
    const [key] = [...back.keys()].filter((k) => k.endsWith(".weight"));
    expect(back.get(key!)!.shape).toEqual([4, 1, 3, 2]);
    expect(Array.from(back.get(key!)!.data as Float32Array)).toEqual(Array.from(w.data as Float32Array));
  });

  it("a depthwise model exports to ONNX (Conv group=C), runs in onnxruntime, and the ONNX importer reads it back as DepthwiseConv2D", async () => {
    const seq = sequential(
      module("Conv2d", { groups: 3, stride: [2, 2], padding: [1, 1], dilation: [1, 1], padding_mode: "zeros" }, { weight: tensor([6, 1, 3, 3], 8), bias: tensor([6], 9) }),
      module("ReLU", {}),
      module("Conv2d", { groups: 1, stride: [1, 1], padding: "same", dilation: [2, 2], padding_mode: "zeros" }, { weight: tensor([4, 6, 3, 3], 10) }),
    );
    const { model } = buildFromModules(flattenModules(seq), [3, 11, 10], "m");
    const file = path.join(tempDirSync("cohort-dw-"), "dw.onnx");
    await saveOnnx(model, file);
    expect((await compareOnnxWithTfjs(model, file)).maxRelError).toBeLessThanOrEqual(1e-5);
    const back = loadOnnxAsLayers(file);
    expect(back.layers.map((l) => l.getClassName())).toContain("DepthwiseConv2D");
    const x = tf.randomUniform([2, 3, 11, 10], 0, 1, "float32", 11);
    expect(relError(back.predict(x) as tf.Tensor, model.predict(x) as tf.Tensor)).toBeLessThanOrEqual(1e-5);
  });

  it("MaxPool2d / AvgPool2d ceil_mode=True: PyTorch's extra clipped windows (as TF 'same' pooling); other sizes are a clear error", () => {
    for (const kind of ["max", "avg"] as const) {
      for (const [k, s, h, w] of [[2, 2, 5, 7], [3, 2, 6, 8], [2, 2, 6, 5]] as const) {
        const seq = sequential(module(kind === "max" ? "MaxPool2d" : "AvgPool2d", { kernel_size: k, stride: s, padding: 0, dilation: 1, ceil_mode: true, count_include_pad: true, divisor_override: null }));
        const { model } = buildFromModules(flattenModules(seq), [2, h, w], "m");
        const x = tf.randomNormal([3, 2, h, w], 0, 1, "float32", 7);
        expect(relError(model.predict(x) as tf.Tensor, torchPoolCeil(x, k, s, kind))).toBeLessThanOrEqual(1e-6);
      }
    }
    const odd = sequential(module("MaxPool2d", { kernel_size: 3, stride: 3, padding: 0, dilation: 1, ceil_mode: true }));
    expect(() => buildFromModules(flattenModules(odd), [1, 7, 7], "m")).toThrow(/ceil_mode=True is not supported for this input size/);
  });

  it("Dropout2d drops whole channels in training (one draw per sample and channel), nothing at inference", () => {
    const model = loadTorchSequential(path.join(ownFixtures, "pytorch", "bn_pools", "model.pt"), { inputShape: [2, 16, 16] });
    const dropout = model.layers.find((l) => l.getClassName() === "Dropout")!;
    expect(dropout.getConfig().noiseShape).toEqual([null, 1, 1, 4]);
    const x = tf.ones([32, 5, 5, 4]);
    const y = dropout.apply(x, { training: true }) as tf.Tensor;
    const perChannel = tf.tidy(() => [tf.min(y, [1, 2]).dataSync(), tf.max(y, [1, 2]).dataSync()]);
    // Every (sample, channel) map is all 0 or all 1/(1-p), and both happen.
    expect(Array.from(perChannel[0]!)).toEqual(Array.from(perChannel[1]!));
    const kept = Array.from(perChannel[0]!).filter((v) => v > 0);
    expect(kept.length).toBeGreaterThan(0);
    expect(kept.length).toBeLessThan(32 * 4);
    for (const v of kept) expect(v).toBeCloseTo(1 / (1 - 0.2), 5);
    expect(Array.from((dropout.apply(x, { training: false }) as tf.Tensor).dataSync()).every((v) => v === 1)).toBe(true);
  });
});
