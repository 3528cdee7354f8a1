/**
 * Writes a model's weights as a PyTorch `state_dict` file (`torch.save(model.state_dict())`
 * layout: zip with archive/data.pkl = OrderedDict of tensors, archive/data/<k> storages,
 * version, byteorder) that `torch.load` reads and `load_state_dict` accepts. Keys follow the
 * original nn.Sequential (`0.weight`, `1.running_mean`) when the model came from a .pt file,
 * else the layer index. Tensors go back to PyTorch layouts (OIHW conv, [out,in] linear).
 */
import { writeFileSync } from "node:fs";
import { zipSync } from "fflate";
import type { WeightSet } from "@cohort/tensors";
import { getWeights } from "../weights.js";
import type { LayersModel } from "../tfjs.js";
import { torchKeys } from "./source.js";

interface Entry { key: string; shape: number[]; data: Float32Array | BigInt64Array }

function transpose(data: Float32Array, shape: number[], perm: number[]): { data: Float32Array; shape: number[] } {
  const outShape = perm.map((p) => shape[p]!);
  const strides = shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));
  const out = new Float32Array(data.length);
  const idx = new Array<number>(outShape.length).fill(0);
  for (let k = 0; k < out.length; k++) {
    out[k] = data[idx.reduce((a, v, d) => a + v * strides[perm[d]!]!, 0)]!;
    for (let d = outShape.length - 1; d >= 0; d--) { if (++idx[d]! < outShape[d]!) break; idx[d] = 0; }
  }
  return { data: out, shape: outShape };
}

/** The state_dict entries, in module order. `weights` defaults to the model's current weights. */
export function torchStateDict(model: LayersModel, weights: WeightSet = getWeights(model)): Entry[] {
  const keys = new Map((torchKeys(model) ?? []).map((k) => [k.layerIndex, k.prefix]));
  const entries: Entry[] = [];
  const byLayer = new Map<number, WeightSet[number][]>();
  for (const t of weights) {
    const index = Number.parseInt(t.name.slice(0, 3), 10);
    byLayer.set(index, [...(byLayer.get(index) ?? []), t]);
  }
  for (const [index, ts] of [...byLayer].sort((a, b) => a[0] - b[0])) {
    const layer = model.layers[index]!;
    const prefix = keys.get(index) ?? String(index);
    const cls = layer.getClassName();
    const f32 = (t: WeightSet[number]) => Float32Array.from(t.data as Float32Array);
    for (const t of ts) {
      const short = t.name.split("/").pop()!;
      if (cls === "Conv2D" && short === "kernel") entries.push({ key: `${prefix}.weight`, ...transpose(f32(t), t.shape, [3, 2, 0, 1]) });
      else if (cls === "DepthwiseConv2D" && short === "depthwise_kernel") {
        // tfjs [kh, kw, C, M] -> PyTorch's grouped [C*M, 1, kh, kw].
        const [kh, kw, c, m] = t.shape as [number, number, number, number];
        entries.push({ key: `${prefix}.weight`, data: transpose(f32(t), t.shape, [2, 3, 0, 1]).data, shape: [c * m, 1, kh, kw] });
      }
      else if (cls === "Dense" && short === "kernel") entries.push({ key: `${prefix}.weight`, ...transpose(f32(t), t.shape, [1, 0]) });
      else if (short === "bias") entries.push({ key: `${prefix}.bias`, shape: t.shape, data: f32(t) });
      else if (cls === "BatchNormalization") {
        const name = { gamma: "weight", beta: "bias", moving_mean: "running_mean", moving_variance: "running_var" }[short] ?? short;
        entries.push({ key: `${prefix}.${name}`, shape: t.shape, data: f32(t) });
      } else entries.push({ key: `${prefix}.${short}`, shape: t.shape, data: f32(t) });
    }
    if (cls === "BatchNormalization") entries.push({ key: `${prefix}.num_batches_tracked`, shape: [], data: new BigInt64Array(1) });
  }
  return entries;
}

/** Pickle (protocol 2) of OrderedDict{key: _rebuild_tensor_v2(storage, 0, size, stride, False, OrderedDict())}. */
function pickleStateDict(entries: Entry[]): Uint8Array {
  const out: number[] = [];
  const enc = new TextEncoder();
  const op = (...b: number[]) => out.push(...b);
  const text = (s: string) => out.push(...enc.encode(s));
  const str = (s: string) => { const b = enc.encode(s); op(0x58, b.length & 255, (b.length >> 8) & 255, (b.length >> 16) & 255, b.length >>> 24); out.push(...b); };
  const int = (v: number) => op(0x4a, v & 255, (v >> 8) & 255, (v >> 16) & 255, (v >>> 24) & 255);
  const tuple = (vs: number[]) => { if (!vs.length) return op(0x29); op(0x28); vs.forEach(int); op(0x74); };
  const global = (m: string, n: string) => { op(0x63); text(`${m}\n${n}\n`); };
  op(0x80, 2);
  global("collections", "OrderedDict"); op(0x29, 0x52, 0x28);
  entries.forEach((e, k) => {
    str(e.key);
    global("torch._utils", "_rebuild_tensor_v2");
    op(0x28, 0x28); str("storage"); global("torch", e.data instanceof BigInt64Array ? "LongStorage" : "FloatStorage");
    str(String(k)); str("cpu"); int(e.data.length); op(0x74, 0x51); // persistent id tuple, BINPERSID
    int(0); tuple(e.shape); tuple(e.shape.map((_, i) => e.shape.slice(i + 1).reduce((a, b) => a * b, 1)));
    op(0x89); global("collections", "OrderedDict"); op(0x29, 0x52, 0x74, 0x52);
  });
  op(0x75, 0x2e); // SETITEMS, STOP
  return Uint8Array.from(out);
}

/** Writes `file` (a .pt that torch.load reads); returns the keys written. */
export function saveTorchStateDict(model: LayersModel, file: string, weights?: WeightSet): string[] {
  const entries = torchStateDict(model, weights);
  const files: Record<string, Uint8Array> = {
    "archive/data.pkl": pickleStateDict(entries),
    "archive/byteorder": new TextEncoder().encode("little"),
    "archive/version": new TextEncoder().encode("3\n"),
  };
  entries.forEach((e, k) => { files[`archive/data/${k}`] = new Uint8Array(e.data.buffer, e.data.byteOffset, e.data.byteLength); });
  writeFileSync(file, zipSync(files, { level: 0 }));
  return entries.map((e) => e.key);
}
