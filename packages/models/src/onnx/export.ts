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
  "Dense", "Conv2D", "DepthwiseConv2D", "SeparableConv2D", "MaxPooling2D", "AveragePooling2D", "GlobalAveragePooling2D", "GlobalMaxPooling2D",
  "BatchNormalization", "Flatten", "Reshape", "Permute", "ZeroPadding2D", "Cropping2D", "UpSampling2D", "Rescaling", "Add", "Multiply",
  "Average", "Maximum", "Minimum", "Concatenate", "Activation", "ReLU", "LeakyReLU", "ELU", "Softmax", "Dropout", "SpatialDropout1D",
  "GaussianNoise", "GaussianDropout", "AlphaDropout", "LogSoftmax", "Clip", "TorchELU", "TorchGeluTanh", "KerasInferenceIdentity", "KerasResizing",
  "nested Sequential/Model (functional graphs with branches and shared layers)",
];
/** Keras merge layers -> ONNX ops (Sum, Mean, Max and Min take any number of inputs; Mul is chained). */
const MERGE_OPS: Record<string, string> = { Add: "Sum", Multiply: "Mul", Average: "Mean", Maximum: "Max", Minimum: "Min" };
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
      case "mish": return { ...v, name: this.node("Mul", [v.name, this.node("Tanh", [this.node("Softplus", [v.name], "softplus")], "tanh")], "mish") };
      case "gelu": {
        // 0.5 * x * (1 + erf(x / sqrt(2))), as tfjs computes it.
        const erf = this.node("Erf", [this.node("Mul", [v.name, this.floats("rsqrt2", [], [Math.SQRT1_2])], "gelu_scale")], "erf");
        const half = this.node("Mul", [v.name, this.floats("half", [], [0.5])], "gelu_half");
        return { ...v, name: this.node("Mul", [half, this.node("Add", [erf, this.floats("one", [], [1])], "gelu_1p")], "gelu") };
      }
      case "gelu_new": {
        // 0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3))).
        const cube = this.node("Mul", [this.node("Mul", [v.name, v.name], "sq"), v.name], "cube");
        const inner = this.node("Add", [v.name, this.node("Mul", [cube, this.floats("c", [], [0.044715])], "cubic")], "inner");
        const t = this.node("Tanh", [this.node("Mul", [inner, this.floats("k", [], [Math.sqrt(2 / Math.PI)])], "scaled")], "tanh");
        const half = this.node("Mul", [v.name, this.floats("half", [], [0.5])], "gelu_half");
        return { ...v, name: this.node("Mul", [half, this.node("Add", [t, this.floats("one", [], [1])], "gelu_1p")], "gelu_new") };
      }
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

/** HWIO depthwise kernel [kh, kw, C, M] (tfjs) -> ONNX grouped-conv weight [C*M, 1, kh, kw] (output channel c*M + m in both). */
function depthwiseWeight(b: Builder, layer: Layer, name: string): { w: string; kh: number; kw: number; c: number; m: number } {
  const k = weight(layer, name)!;
  const [kh, kw, c, m] = k.shape as [number, number, number, number];
  const data = tf.tidy(() => tf.transpose(tf.tensor(k.data, k.shape), [2, 3, 0, 1]).dataSync() as Float32Array);
  return { w: b.floats(`${layer.name}_${name}`, [c * m, 1, kh, kw], data), kh, kw, c, m };
}

/** The inputs of a merge layer, all held in the first one's layout. */
function sameLayout(b: Builder, layer: Layer, xs: Value[]): Value[] {
  const rank = xs[0]!.shape.length;
  if (xs.some((x) => x.shape.length !== rank)) {
    throw new OnnxExportError(`${b.where}: layer ${layer.name} (${layer.getClassName()}): inputs of different ranks (broadcasting) cannot be exported`);
  }
  return xs.map((x) => b.to(x, xs[0]!.perm));
}

/** Keras 2.8+ Resizing (KerasResizing): optional centre crop (smart_resize), then a half-pixel resize to [height, width]. */
function emitResizing(b: Builder, layer: Layer, cfg: Config, v: Value, outShape: Shape): Value {
  const x = b.to(v, channelsFirst(4));
  const [height, width] = [cfg.height as number, cfg.width as number];
  let name = x.name;
  let [H, W] = [v.shape[1], v.shape[2]];
  if (cfg.cropToAspectRatio && H != null && W != null) {
    // The same float32 arithmetic as KerasResizing.call.
    const f = Math.fround;
    const ch = Math.min(H, Math.trunc(f(f(W * height) / f(width))));
    const cw = Math.min(W, Math.trunc(f(f(H * width) / f(height))));
    const top = Math.trunc(f(H - ch) / 2), left = Math.trunc(f(W - cw) / 2);
    if (ch !== H || cw !== W) {
      name = b.node("Slice", [name, b.int64s("starts", [top, left]), b.int64s("ends", [top + ch, left + cw]), b.int64s("axes", [2, 3])], `${layer.name}_crop`);
      [H, W] = [ch, cw];
    }
  } else if (cfg.cropToAspectRatio) {
    // Input size known only at run time: the same crop computed in the graph. [H, W] of the NCHW input:
    const hw = b.node("Slice", [b.node("Shape", [name], `${layer.name}_shape`), b.int64s("starts", [2]), b.int64s("ends", [4]), b.int64s("axes", [0])], `${layer.name}_hw`);
    // [ch, cw] = min([H, W], floor(float32([W, H]) * [height, width] / [width, height])): float32 products and quotients as in call().
    const wh = b.node("Cast", [b.node("Gather", [hw, b.int64s("swap", [1, 0])], `${layer.name}_wh`, { axis: 0 })], `${layer.name}_whf`, { to: 1 });
    const ratio = b.node("Div", [b.node("Mul", [wh, b.floats("target", [2], [height, width])], `${layer.name}_scaled`), b.floats("target_t", [2], [width, height])], `${layer.name}_ratio`);
    const crop = b.node("Min", [hw, b.node("Cast", [b.node("Floor", [ratio], `${layer.name}_floor`)], `${layer.name}_crop_size`, { to: 7 })], `${layer.name}_crop_hw`);
    const starts = b.node("Div", [b.node("Sub", [hw, crop], `${layer.name}_excess`), b.int64s("two", [2, 2])], `${layer.name}_starts`);
    const ends = b.node("Add", [starts, crop], `${layer.name}_ends`);
    name = b.node("Slice", [name, starts, ends, b.int64s("axes", [2, 3])], `${layer.name}_crop`);
    [H, W] = [null, null];
  }
  if (H === height && W === width) return { ...x, name, shape: outShape };
  // sizes = [N, C] of the input, then [height, width]: the batch stays dynamic.
  const nc = b.node("Slice", [b.node("Shape", [name], `${layer.name}_shape`), b.int64s("starts", [0]), b.int64s("ends", [2]), b.int64s("axes", [0])], `${layer.name}_nc`);
  const sizes = b.node("Concat", [nc, b.int64s(`${layer.name}_hw`, [height, width])], `${layer.name}_sizes`, { axis: 0 });
  const nearest = cfg.interpolation === "nearest";
  const y = b.node("Resize", [name, "", "", sizes], layer.name, {
    mode: nearest ? "nearest" : "linear",
    coordinate_transformation_mode: "half_pixel",
    // TF's half-pixel nearest neighbour is floor((x + 0.5) * in/out), which is ONNX's round_prefer_ceil of the half-pixel coordinate.
    ...(nearest ? { nearest_mode: "round_prefer_ceil" } : {}),
  });
  return { ...x, name: y, shape: outShape };
}

function emitLayer(b: Builder, layer: Layer, xs: Value[], outShape: Shape): Value {
  const cls = layer.getClassName();
  const cfg = layer.getConfig() as Config;
  const out = (x: Value): Value => ({ ...x, shape: outShape });
  if (MERGE_OPS[cls] !== undefined || cls === "Concatenate") {
    const ys = sameLayout(b, layer, xs);
    if (cls === "Concatenate") {
      return out({ ...ys[0]!, name: b.node("Concat", ys.map((y) => y.name), layer.name, { axis: b.axis(ys[0]!, (cfg.axis as number | undefined) ?? -1) }) });
    }
    const op = MERGE_OPS[cls]!;
    const name = op === "Mul"
      ? ys.slice(1).reduce((acc, y) => b.node("Mul", [acc, y.name], layer.name), ys[0]!.name)
      : b.node(op, ys.map((y) => y.name), layer.name);
    return out({ ...ys[0]!, name });
  }
  if (xs.length !== 1) {
    throw new OnnxExportError(`${b.where}: layer ${layer.name} (${cls}) has ${xs.length} inputs; only the merge layers (Add, Multiply, Average, Maximum, Minimum, Concatenate) can take several`);
  }
  const v = xs[0]!;
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
    case "DepthwiseConv2D": {
      // tfjs 4.22's DepthwiseConv2D ignores dilationRate (its call passes none): export what it computes.
      const { w, kh, kw, c } = depthwiseWeight(b, layer, "depthwise_kernel");
      const bias = weight(layer, "bias");
      const bn = bias ? b.floats(`${layer.name}_bias`, bias.shape, bias.data) : undefined;
      const y = spatialOp(b, v, layer, cfg, "Conv", (x) => (bn ? [x, w, bn] : [x, w]),
        { kernel_shape: [kh, kw], strides: pair(cfg.strides), dilations: [1, 1], group: c });
      return b.activation(out(y), cfg.activation, layer.name);
    }
    case "SeparableConv2D": {
      // Depthwise (with the layer's strides, padding and dilation), then a 1x1 pointwise conv with the bias.
      const { w, kh, kw, c, m } = depthwiseWeight(b, layer, "depthwise_kernel");
      const depth = spatialOp(b, v, layer, cfg, "Conv", (x) => [x, w],
        { kernel_shape: [kh, kw], strides: pair(cfg.strides), dilations: pair(cfg.dilationRate ?? 1), group: c });
      const p = weight(layer, "pointwise_kernel")!;
      const filters = p.shape[3]!;
      const pw = b.floats(`${layer.name}_pointwise_kernel`, [filters, c * m, 1, 1], tf.tidy(() => tf.transpose(tf.tensor(p.data, p.shape), [3, 2, 0, 1]).dataSync() as Float32Array));
      const bias = weight(layer, "bias");
      const ins = [depth.name, pw, ...(bias ? [b.floats(`${layer.name}_bias`, bias.shape, bias.data)] : [])];
      const y = { ...depth, name: b.node("Conv", ins, `${layer.name}_pointwise`, { kernel_shape: [1, 1] }) };
      return b.activation(out(y), cfg.activation, layer.name);
    }
    case "UpSampling2D": {
      // tfjs resizes without half-pixel centres or corner alignment: ONNX's asymmetric transform (nearest: floor).
      const x = b.to(v, cfg.dataFormat === "channelsFirst" ? identity(4) : channelsFirst(4));
      const [sh, sw] = pair(cfg.size);
      const nearest = cfg.interpolation !== "bilinear";
      const y = b.node("Resize", [x.name, "", b.floats(`${layer.name}_scales`, [4], [1, 1, sh!, sw!])], layer.name,
        { mode: nearest ? "nearest" : "linear", coordinate_transformation_mode: "asymmetric", ...(nearest ? { nearest_mode: "floor" } : {}) });
      return out({ ...x, name: y });
    }
    case "KerasResizing": return emitResizing(b, layer, cfg, v, outShape);
    case "Rescaling": {
      const scaled = b.node("Mul", [v.name, b.floats(`${layer.name}_scale`, [], [cfg.scale as number])], layer.name);
      return out({ ...v, name: b.node("Add", [scaled, b.floats(`${layer.name}_offset`, [], [(cfg.offset as number | undefined) ?? 0])], `${layer.name}_offset`) });
    }
    case "Cropping2D": {
      const [[t, bo], [l, r]] = cfg.cropping as [[number, number], [number, number]];
      const [ah, aw] = cfg.dataFormat === "channelsFirst" ? [2, 3] : [1, 2];
      // Negative ends count from the end; an end crop of 0 slices to the end.
      const end = (n: number) => (n > 0 ? -n : 2 ** 31 - 1);
      return out(b.unary(v, "Slice", undefined, [b.int64s("starts", [t, l]), b.int64s("ends", [end(bo), end(r)]), b.int64s("axes", [v.perm.indexOf(ah), v.perm.indexOf(aw)])]));
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
    case "TorchGeluTanh": return out(b.activation(v, "gelu_new", layer.name));
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

/**
 * Emits the layers of `model` (recursing into nested models) from `inputs`; returns its output values.
 * Each call of a layer (an inbound node) is emitted once all its inputs are known, so functional
 * graphs with branches, merges and shared layers export as well as chains.
 */
function emitModel(b: Builder, model: LayersModel, inputs: Value[]): Value[] {
  if (model.inputs.length !== inputs.length) throw new OnnxExportError(`${b.where}: model ${model.name} takes ${model.inputs.length} inputs, gets ${inputs.length}`);
  const values = new Map<number, Value>(model.inputs.map((t, i) => [t.id, inputs[i]!]));
  const pending = model.layers.filter((l) => l.getClassName() !== "InputLayer").flatMap((layer) => layer.inboundNodes.map((node) => ({ layer, node })));
  for (let progress = true; progress;) {
    progress = false;
    for (let i = 0; i < pending.length; i++) {
      const { layer, node } = pending[i]!;
      // Nodes of another graph (a layer shared with an outer model) never get their inputs here.
      if (node.inputTensors.length === 0 || !node.inputTensors.every((t) => values.has(t.id))) continue;
      pending.splice(i--, 1);
      progress = true;
      const xs = node.inputTensors.map((t) => values.get(t.id)!);
      const ys = layer instanceof tfl.LayersModel ? emitModel(b, layer, xs) : [emitLayer(b, layer, xs, node.outputTensors[0]!.shape as Shape)];
      node.outputTensors.forEach((t, k) => { if (ys[k]) values.set(t.id, ys[k]!); });
    }
  }
  return model.outputs.map((o) => {
    const v = values.get(o.id);
    if (!v) throw new OnnxExportError(`${b.where}: model ${model.name}: output ${o.name} is not reachable from the inputs`);
    return v;
  });
}

/** The ONNX ModelProto bytes of a TF.js layers model (inference graph: Dropout is the identity). */
export function modelToOnnx(model: LayersModel, where = model.name): Uint8Array {
  const b = new Builder(where);
  const inShape = model.inputs[0]?.shape as Shape | undefined;
  if (!inShape) throw new OnnxExportError(`${where}: the model has no input`);
  if (model.inputs.length !== 1 || model.outputs.length !== 1) {
    throw new OnnxExportError(`${where}: model ${model.name} has ${model.inputs.length} inputs and ${model.outputs.length} outputs; only single-input, single-output models can be exported`);
  }
  const result = b.plain(emitModel(b, model, [{ name: "input", perm: identity(inShape.length), shape: inShape }])[0]!);
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
