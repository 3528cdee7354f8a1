/**
 * TF.js layers model -> ONNX (opset 13) with the same inputs and outputs as the TF.js model, so
 * the two predict the same thing on the same array (a PyTorch-loaded model stays NCHW in and
 * out, a Keras one NHWC).
 *
 * Layout: ONNX convolves NCHW, TF.js NHWC. Every value carries `perm`, how its ONNX tensor is
 * permuted relative to the TF.js tensor it stands for (physical axis i = logical axis perm[i]).
 * Conv/pool/batch-norm ask for the layout they need and a Transpose is emitted only when the
 * value is not already in it; element-wise layers keep whatever layout they get, and Permute
 * layers only change `perm` (no node). So a chain of convolutions is transposed once at the
 * start, and once back before Flatten/Dense/Reshape, which need TF.js's row-major order.
 */
import { atomicWriteFile } from "@cohort/tensors";
import { tf, tfl, type LayersModel } from "../tfjs.js";
import { type AttrValue, type NodeOut, type TensorOut, encodeOnnxModel } from "./proto-writer.js";

export const ONNX_EXPORT_OPSET = 13;
export const ONNX_EXPORT_LAYERS = [
  "Dense", "Conv2D", "MaxPooling2D", "AveragePooling2D", "GlobalAveragePooling2D", "GlobalMaxPooling2D", "BatchNormalization",
  "Flatten", "Reshape", "Permute", "ZeroPadding2D", "Activation", "ReLU", "LeakyReLU", "ELU", "Softmax", "Dropout",
  "SpatialDropout1D", "GaussianNoise", "GaussianDropout", "AlphaDropout", "LogSoftmax", "Clip", "TorchELU", "KerasInferenceIdentity",
  "nested Sequential/Model",
];
const IDENTITY_LAYERS = new Set(["Dropout", "SpatialDropout1D", "GaussianNoise", "GaussianDropout", "AlphaDropout", "KerasInferenceIdentity"]);

type Layer = InstanceType<typeof tfl.layers.Layer>;
type Shape = (number | null)[];
type Config = Record<string, unknown>;
interface Value { name: string; perm: number[]; shape: Shape }

const identity = (rank: number) => [...Array(rank).keys()];
const inverse = (p: number[]) => { const q = new Array<number>(p.length); p.forEach((v, i) => { q[v] = i; }); return q; };
const same = (a: number[], b: number[]) => a.length === b.length && a.every((v, i) => v === b[i]);
/** Channels-first layout of a channels-last rank-r value: [0, r-1, 1, ..., r-2]. */
const channelsFirst = (rank: number) => [0, rank - 1, ...identity(rank).slice(1, rank - 1)];

export class OnnxExportError extends Error {
  override name = "OnnxExportError";
}

class Builder {
  readonly nodes: NodeOut[] = [];
  readonly inits: TensorOut[] = [];
  private count = 0;
  constructor(readonly where: string) {}

  fresh(base: string): string { return `${base.replace(/[^A-Za-z0-9_.]/g, "_")}_${this.count++}`; }
  node(opType: string, inputs: string[], base: string, attrs?: Record<string, AttrValue>): string {
    const out = this.fresh(base);
    this.nodes.push({ opType, inputs, outputs: [out], name: out, attrs });
    return out;
  }
  floats(base: string, dims: number[], data: ArrayLike<number>): string {
    const name = this.fresh(base);
    this.inits.push({ name, dims, floats: Float32Array.from(data) });
    return name;
  }
  int64s(base: string, values: number[]): string {
    const name = this.fresh(base);
    this.inits.push({ name, dims: [values.length], int64s: values });
    return name;
  }
  /** The value in layout `target`, transposing when it is held in another. */
  to(v: Value, target: number[]): Value {
    if (same(v.perm, target)) return v;
    const pinv = inverse(v.perm);
    const name = this.node("Transpose", [v.name], `${v.name}_t`, { perm: target.map((t) => pinv[t]!) });
    return { ...v, name, perm: target };
  }
  plain(v: Value): Value { return this.to(v, identity(v.shape.length)); }
  /** A same-layout element-wise op. */
  unary(v: Value, op: string, attrs?: Record<string, AttrValue>, extra: string[] = []): Value {
    return { ...v, name: this.node(op, [v.name, ...extra], op.toLowerCase(), attrs) };
  }
  /** Physical position of a logical axis (negative counts from the end). */
  axis(v: Value, logical: number): number {
    return v.perm.indexOf(logical < 0 ? v.shape.length + logical : logical);
  }
  clip(v: Value, min: number, max: number): Value {
    return this.unary(v, "Clip", undefined, [this.floats("min", [], [min]), this.floats("max", [], [max])]);
  }

  activation(v: Value, name: unknown, layer: string): Value {
    switch (name) {
      case undefined: case null: case "linear": return v;
      case "relu": return this.unary(v, "Relu");
      case "relu6": return this.clip(v, 0, 6);
      case "sigmoid": return this.unary(v, "Sigmoid");
      case "tanh": return this.unary(v, "Tanh");
      case "elu": return this.unary(v, "Elu", { alpha: { float: 1 } });
      case "selu": return this.unary(v, "Selu");
      case "softplus": return this.unary(v, "Softplus");
      case "softsign": return this.unary(v, "Softsign");
      case "hardSigmoid": return this.unary(v, "HardSigmoid", { alpha: { float: 0.2 }, beta: { float: 0.5 } });
      case "softmax": return this.unary(v, "Softmax", { axis: this.axis(v, -1) });
      case "logSoftmax": return this.unary(v, "LogSoftmax", { axis: this.axis(v, -1) });
      case "swish": return { ...v, name: this.node("Mul", [v.name, this.node("Sigmoid", [v.name], "sigmoid")], "swish") };
      default: throw new OnnxExportError(`${this.where}: layer ${layer}: activation "${String(name)}" cannot be exported to ONNX`);
    }
  }
}

function weight(layer: Layer, suffix: string): { shape: number[]; data: Float32Array } | undefined {
  const w = layer.weights.find((v) => v.originalName.split("/").pop()!.replace(/:\d+$/, "") === suffix);
  return w ? { shape: [...w.shape] as number[], data: Float32Array.from(w.read().dataSync()) } : undefined;
}

/** TF 'same' padding (the odd pixel after), as ONNX pads [begin..., end...]; undefined for an unknown size. */
function samePads(sizes: Shape, kernel: number[], strides: number[], dilation: number[]): number[] | undefined {
  if (sizes.some((n) => n === null)) return undefined;
  const total = sizes.map((n, i) => Math.max((Math.ceil(n! / strides[i]!) - 1) * strides[i]! + (kernel[i]! - 1) * dilation[i]! + 1 - n!, 0));
  return [...total.map((t) => Math.floor(t / 2)), ...total.map((t) => t - Math.floor(t / 2))];
}

/** Conv and pooling: NCHW in ONNX, with 'same'/'valid' padding as explicit pads where sizes are known. */
function spatialOp(b: Builder, v: Value, layer: Layer, cfg: Config, op: string, inputs: (x: string) => string[], attrs: Record<string, AttrValue>): Value {
  const first = cfg.dataFormat === "channelsFirst";
  const x = b.to(v, first ? identity(4) : channelsFirst(4));
  const kernel = attrs.kernel_shape as number[];
  const strides = attrs.strides as number[];
  const dilation = (attrs.dilations as number[] | undefined) ?? [1, 1];
  const sizes = first ? v.shape.slice(2) : v.shape.slice(1, 3);
  if (cfg.padding === "same") {
    const pads = samePads(sizes, kernel, strides, dilation);
    if (pads) attrs.pads = pads;
    else attrs.auto_pad = "SAME_UPPER";
  } else if (cfg.padding !== "valid") {
    throw new OnnxExportError(`${b.where}: layer ${layer.name} (${layer.getClassName()}): padding "${String(cfg.padding)}" cannot be exported`);
  }
  return { ...x, name: b.node(op, inputs(x.name), layer.name, attrs) };
}

const pair = (v: unknown) => (Array.isArray(v) ? (v as number[]) : [v as number, v as number]);

function emitLayer(b: Builder, layer: Layer, v: Value, outShape: Shape): Value {
  const cls = layer.getClassName();
  const cfg = layer.getConfig() as Config;
  const out = (x: Value): Value => ({ ...x, shape: outShape });
  if (IDENTITY_LAYERS.has(cls)) return v;
  switch (cls) {
    case "Dense": {
      const x = b.plain(v);
      const k = weight(layer, "kernel")!;
      let y = b.node("MatMul", [x.name, b.floats(`${layer.name}_kernel`, k.shape, k.data)], layer.name);
      const bias = weight(layer, "bias");
      if (bias) y = b.node("Add", [y, b.floats(`${layer.name}_bias`, bias.shape, bias.data)], `${layer.name}_bias`);
      return b.activation(out({ ...x, name: y }), cfg.activation, layer.name);
    }
    case "Conv2D": {
      const k = weight(layer, "kernel")!;
      // HWIO (tfjs) -> OIHW (ONNX).
      const oihw = tf.tidy(() => tf.transpose(tf.tensor(k.data, k.shape), [3, 2, 0, 1]).dataSync() as Float32Array);
      const bias = weight(layer, "bias");
      const w = b.floats(`${layer.name}_kernel`, [k.shape[3]!, k.shape[2]!, k.shape[0]!, k.shape[1]!], oihw);
      const bn = bias ? b.floats(`${layer.name}_bias`, bias.shape, bias.data) : undefined;
      const y = spatialOp(b, v, layer, cfg, "Conv", (x) => (bn ? [x, w, bn] : [x, w]),
        { kernel_shape: [k.shape[0]!, k.shape[1]!], strides: pair(cfg.strides), dilations: pair(cfg.dilationRate ?? 1) });
      return b.activation(out(y), cfg.activation, layer.name);
    }
    case "MaxPooling2D": case "AveragePooling2D": {
      const size = pair(cfg.poolSize);
      const y = spatialOp(b, v, layer, cfg, cls === "MaxPooling2D" ? "MaxPool" : "AveragePool", (x) => [x], { kernel_shape: size, strides: pair(cfg.strides ?? size) });
      return out(y);
    }
    case "GlobalAveragePooling2D": case "GlobalMaxPooling2D": {
      const x = b.to(v, cfg.dataFormat === "channelsFirst" ? identity(4) : channelsFirst(4));
      const pooled = b.node(cls === "GlobalMaxPooling2D" ? "GlobalMaxPool" : "GlobalAveragePool", [x.name], layer.name);
      // [N, C, 1, 1] -> [N, C], as tfjs returns.
      return { name: b.node("Flatten", [pooled], `${layer.name}_flat`, { axis: 1 }), perm: identity(2), shape: outShape };
    }
    case "BatchNormalization": {
      const rank = v.shape.length;
      const ax = Array.isArray(cfg.axis) ? (cfg.axis as number[]) : [cfg.axis as number];
      if (ax.length !== 1) throw new OnnxExportError(`${b.where}: layer ${layer.name} (BatchNormalization): only one axis can be exported`);
      const a = ax[0]! < 0 ? rank + ax[0]! : ax[0]!;
      // ONNX normalises axis 1: hold the value with the normalised axis there.
      const x = v.perm[1] === a ? v : b.to(v, [0, a, ...identity(rank).slice(1).filter((d) => d !== a)]);
      const c = v.shape[a] as number;
      const get = (s: string, fill: number) => weight(layer, s)?.data ?? new Float32Array(c).fill(fill);
      const ins = [["gamma", 1], ["beta", 0], ["moving_mean", 0], ["moving_variance", 1]].map(([s, f]) => b.floats(`${layer.name}_${s}`, [c], get(s as string, f as number)));
      return out({ ...x, name: b.node("BatchNormalization", [x.name, ...ins], layer.name, { epsilon: { float: cfg.epsilon as number } }) });
    }
    case "Flatten": {
      if (cfg.dataFormat === "channelsFirst" && v.shape.length > 2) throw new OnnxExportError(`${b.where}: layer ${layer.name} (Flatten): dataFormat channelsFirst cannot be exported`);
      const x = b.plain(v);
      return out({ ...x, name: b.node("Flatten", [x.name], layer.name, { axis: 1 }), perm: identity(2) });
    }
    case "Reshape": {
      const x = b.plain(v);
      // 0 copies the batch size from the input.
      const shape = b.int64s(`${layer.name}_shape`, [0, ...(cfg.targetShape as number[])]);
      return out({ name: b.node("Reshape", [x.name, shape], layer.name), perm: identity(outShape.length), shape: outShape });
    }
    case "Permute": {
      // No node: the ONNX tensor stays as it is, only its relation to the logical tensor changes.
      const qinv = inverse([0, ...(cfg.dims as number[])]);
      return out({ ...v, perm: v.perm.map((p) => qinv[p]!) });
    }
    case "ZeroPadding2D": {
      const [[t, bo], [l, r]] = cfg.padding as [[number, number], [number, number]];
      const logical = new Map(cfg.dataFormat === "channelsFirst" ? [[2, [t, bo]], [3, [l, r]]] : [[1, [t, bo]], [2, [l, r]]]);
      const per = v.perm.map((p) => logical.get(p) ?? [0, 0]);
      return out(b.unary(v, "Pad", undefined, [b.int64s(`${layer.name}_pads`, [...per.map((p) => p[0]!), ...per.map((p) => p[1]!)])]));
    }
    case "Activation": return out(b.activation(v, cfg.activation, layer.name));
    case "ReLU": return out(typeof cfg.maxValue === "number" ? b.clip(v, 0, cfg.maxValue) : b.unary(v, "Relu"));
    case "LeakyReLU": return out(b.unary(v, "LeakyRelu", { alpha: { float: cfg.alpha as number } }));
    case "ELU": case "TorchELU": return out(b.unary(v, "Elu", { alpha: { float: (cfg.alpha as number | undefined) ?? 1 } }));
    case "Softmax": case "LogSoftmax": {
      const axes = Array.isArray(cfg.axis) ? (cfg.axis as number[]) : [(cfg.axis as number | undefined) ?? -1];
      if (axes.length !== 1) throw new OnnxExportError(`${b.where}: layer ${layer.name} (${cls}): only one axis can be exported`);
      return out(b.unary(v, cls, { axis: b.axis(v, axes[0]!) }));
    }
    case "Clip": return out(b.clip(v, cfg.min as number, cfg.max as number));
    default:
      throw new OnnxExportError(`${b.where}: layer ${layer.name} (${cls}) cannot be exported to ONNX; supported layers: ${ONNX_EXPORT_LAYERS.join(", ")}`);
  }
}

/** Emits the layers of `model` (recursing into nested models) from `input`; returns the output value. */
function emitModel(b: Builder, model: LayersModel, input: Value): Value {
  if (model.inputs.length !== 1 || model.outputs.length !== 1) {
    throw new OnnxExportError(`${b.where}: model ${model.name} has ${model.inputs.length} inputs and ${model.outputs.length} outputs; only single-input, single-output models can be exported`);
  }
  const values = new Map<number, Value>([[model.inputs[0]!.id, input]]);
  for (const layer of model.layers) {
    if (layer.getClassName() === "InputLayer") continue;
    const node = layer.inboundNodes.find((n) => n.inputTensors.length > 0 && n.inputTensors.every((t) => values.has(t.id)));
    if (!node) continue; // not on the path from this model's input
    if (node.inputTensors.length !== 1) {
      throw new OnnxExportError(`${b.where}: layer ${layer.name} (${layer.getClassName()}) has ${node.inputTensors.length} inputs; only chains of single-input layers can be exported`);
    }
    const x = values.get(node.inputTensors[0]!.id)!;
    const y = layer instanceof tfl.LayersModel ? emitModel(b, layer, x) : emitLayer(b, layer, x, node.outputTensors[0]!.shape as Shape);
    values.set(node.outputTensors[0]!.id, y);
  }
  const result = values.get(model.outputs[0]!.id);
  if (!result) throw new OnnxExportError(`${b.where}: model ${model.name}: the output is not reachable from the input`);
  return result;
}

/** The ONNX ModelProto bytes of a TF.js layers model (inference graph: Dropout is the identity). */
export function modelToOnnx(model: LayersModel, where = model.name): Uint8Array {
  const b = new Builder(where);
  const inShape = model.inputs[0]?.shape as Shape | undefined;
  if (!inShape) throw new OnnxExportError(`${where}: the model has no input`);
  const result = b.plain(emitModel(b, model, { name: "input", perm: identity(inShape.length), shape: inShape }));
  const last = b.nodes[b.nodes.length - 1];
  if (last && last.outputs[0] === result.name) last.outputs[0] = "output";
  else b.nodes.push({ opType: "Identity", inputs: [result.name], outputs: ["output"], name: "output" });
  // Unknown sizes get their own symbolic names (the batch size is shared by input and output).
  const dims = (s: Shape, side: string) => s.map((d, i) => (i === 0 ? "batch" : d ?? `${side}_d${i}`));
  const outShape = model.outputs[0]!.shape as Shape;
  return encodeOnnxModel(
    { name: model.name, nodes: b.nodes, initializers: b.inits, inputs: [{ name: "input", dims: dims(inShape, "input") }], outputs: [{ name: "output", dims: dims(outShape, "output") }] },
    ONNX_EXPORT_OPSET,
    { name: "cohort", version: "0.1.0" },
  );
}

/** Writes `file` atomically; throws OnnxExportError naming the first layer that cannot be exported. */
export async function saveOnnx(model: LayersModel, file: string): Promise<void> {
  await atomicWriteFile(file, modelToOnnx(model, file));
}
