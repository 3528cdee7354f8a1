/**
 * An unpickled `nn.Sequential` -> a TF.js layers model with PyTorch's semantics: it takes NCHW
 * input and returns what PyTorch returns. Internally images are NHWC (what tfjs convolves):
 * a leading Permute turns NCHW into NHWC, conv kernels are transposed OIHW -> HWIO, and before
 * Flatten (or at the output) a Permute restores NCHW order so Linear weights apply unchanged.
 *
 * Planning works on shapes only (no tfjs objects), so input-shape.ts can try shapes cheaply to
 * find those the layers admit.
 */
import { PyObject } from "./unpickler.js";
import { isTorchTensor, type TorchTensor } from "./torch-file.js";
import { tf, tfl } from "../tfjs.js";
import { Clip, LogSoftmax, TorchELU, TorchGeluTanh } from "./layers.js";
import { conv2d } from "../atrous-conv.js";

/** A module (or input shape) the converter cannot take: the user's to change, so it carries a code. */
export class TorchModuleError extends Error {
  override name = "TorchModuleError";
  readonly code: string = "PYTORCH_MODULE";
}

export const SUPPORTED_MODULES = [
  "Conv2d (groups 1, or depthwise: groups = in_channels)", "Linear", "ReLU", "ReLU6", "LeakyReLU", "ELU", "GELU", "Tanh", "Sigmoid", "Softmax", "LogSoftmax", "MaxPool2d",
  "AvgPool2d", "AdaptiveAvgPool2d (1, or a size dividing the input)", "BatchNorm1d", "BatchNorm2d", "Dropout", "Dropout2d", "Flatten", "Identity", "Sequential",
];

/** Per-sample shape in PyTorch terms: [C, H, W] (held as NHWC inside) or [features]. */
type Shape = (number | null)[];
type Layer = InstanceType<typeof tfl.layers.Layer>;

/** A planned layer: built later, with the torch tensors to load as its weights. */
interface Step { make: () => Layer; weights?: TorchTensor[]; transform?: (t: TorchTensor, i: number) => tf.Tensor; torchKey?: string; kind?: string }

/** Where each torch state_dict tensor went, for writing a state_dict back. */
export interface TorchKey { layerIndex: number; prefix: string; kind: "conv" | "depthwise" | "linear" | "batchnorm" }

const pair = (v: unknown, what: string): [number, number] => {
  if (typeof v === "number") return [v, v];
  if (Array.isArray(v) && v.length === 2 && v.every((x) => typeof x === "number")) return [v[0] as number, v[1] as number];
  throw new TorchModuleError(`${what}: expected an int or a pair of ints, got ${JSON.stringify(v)}`);
};
const tensor = (t: TorchTensor) => tf.tensor(Array.from(t.data as ArrayLike<number>), t.shape, "float32");
const out = (n: number | null, k: number, s: number, pad: number, d = 1) => (n === null ? null : Math.floor((n + 2 * pad - d * (k - 1) - 1) / s) + 1);

/** Flattens nested Sequentials into [state_dict prefix, module] pairs. */
export function flattenModules(m: PyObject, prefix = ""): [string, PyObject][] {
  if (!m.cls.endsWith(".Sequential")) return [[prefix.replace(/\.$/, ""), m]];
  const children = m.get("_modules");
  if (!(children instanceof Map)) throw new TorchModuleError("nn.Sequential without _modules");
  return [...children].flatMap(([k, v]) => {
    if (!(v instanceof PyObject)) throw new TorchModuleError(`module ${prefix}${String(k)} is not an nn.Module`);
    return flattenModules(v, `${prefix}${String(k)}.`);
  });
}

function param(m: PyObject, name: string, where: string, required = true): TorchTensor | undefined {
  const t = (m.get("_parameters") as Map<string, unknown> | undefined)?.get(name) ?? (m.get("_buffers") as Map<string, unknown> | undefined)?.get(name);
  if (isTorchTensor(t)) return t;
  if (required) throw new TorchModuleError(`${where}: missing tensor ${name}`);
  return undefined;
}

/** Plans the layers for `modules` given the per-sample input shape; throws on any mismatch. */
export function plan(modules: [string, PyObject][], input: Shape): { steps: Step[]; output: Shape } {
  const steps: Step[] = [];
  let shape = [...input];
  const spatial = () => shape.length === 3;
  if (spatial()) steps.push({ make: () => tfl.layers.permute({ dims: [2, 3, 1] }) });
  const toNchw = () => steps.push({ make: () => tfl.layers.permute({ dims: [3, 1, 2] }) });
  const axisOf = (dim: unknown, where: string) => {
    const rank = shape.length + 1;
    let d = dim === null || dim === undefined ? (rank === 0 || rank === 1 || rank === 3 ? 0 : 1) : Number(dim);
    if (d < 0) d += rank;
    if (d <= 0 || d >= rank) throw new TorchModuleError(`${where}: dim ${String(dim)} is the batch axis or out of range`);
    return spatial() ? [0, -1, 1, 2][d]! : d === rank - 1 ? -1 : d; // NCHW dim -> NHWC axis
  };
  for (const [key, m] of modules) {
    if (shape.some((d) => d !== null && d < 1)) throw new TorchModuleError(`module ${key}: input too small, shape [${shape}]`);
    const type = m.cls.split(".").pop()!;
    const where = `module ${key} (${type})`;
    const attr = (name: string) => m.get(name);
    switch (type) {
      case "Conv2d": {
        if (!spatial()) throw new TorchModuleError(`${where}: needs a [C,H,W] input, got [${shape}]`);
        const w = param(m, "weight", where)!;
        const bias = param(m, "bias", where, false);
        const [o, perGroup, kh, kw] = w.shape as [number, number, number, number];
        const groups = (attr("groups") as number | undefined) ?? 1;
        const i = perGroup * groups;
        // groups = in_channels is a depthwise conv (tfjs DepthwiseConv2D, depth multiplier out/in); other groupings have no tfjs layer.
        const depthwise = groups !== 1;
        if (depthwise && !(perGroup === 1 && o % groups === 0)) {
          throw new TorchModuleError(`${where}: groups=${groups} is not supported (only 1, or groups = in_channels: a depthwise convolution)`);
        }
        if ((attr("padding_mode") ?? "zeros") !== "zeros") throw new TorchModuleError(`${where}: padding_mode ${String(attr("padding_mode"))} is not supported (only zeros)`);
        if (shape[0] !== i) throw new TorchModuleError(`${where}: expects ${i} input channels, gets ${shape[0]}`);
        const [sh, sw] = pair(attr("stride"), `${where} stride`);
        const [dh, dw] = pair(attr("dilation") ?? 1, `${where} dilation`);
        if (depthwise && (dh > 1 || dw > 1)) throw new TorchModuleError(`${where}: a depthwise (grouped) convolution with dilation > 1 is not supported (tfjs' DepthwiseConv2D has no dilation)`);
        const p = attr("padding");
        // 'same' pads d*(k-1) in total, the smaller half first; TF 'same' does the same at stride 1.
        const [ph0, ph1, pw0, pw1] = p === "valid" ? [0, 0, 0, 0] : p === "same"
          ? [Math.floor((dh * (kh - 1)) / 2), Math.ceil((dh * (kh - 1)) / 2), Math.floor((dw * (kw - 1)) / 2), Math.ceil((dw * (kw - 1)) / 2)]
          : (([a, b]) => [a, a, b, b])(pair(p, `${where} padding`));
        const tfSame = sh === 1 && sw === 1 && ph0 === Math.floor((dh * (kh - 1)) / 2) && ph1 === Math.ceil((dh * (kh - 1)) / 2)
          && pw0 === Math.floor((dw * (kw - 1)) / 2) && pw1 === Math.ceil((dw * (kw - 1)) / 2) && ph0 + ph1 + pw0 + pw1 > 0;
        if (!tfSame && ph0 + ph1 + pw0 + pw1 > 0) steps.push({ make: () => tfl.layers.zeroPadding2d({ padding: [[ph0, ph1], [pw0, pw1]] }) });
        if ((sh > 1 || sw > 1) && (dh > 1 || dw > 1)) throw new TorchModuleError(`${where}: stride > 1 together with dilation > 1 is not supported by tfjs`);
        const weights = bias ? [w, bias] : [w];
        if (depthwise) {
          // [C*M, 1, kh, kw] -> tfjs [kh, kw, C, M]: output channel c*M + m in both.
          steps.push({
            make: () => tfl.layers.depthwiseConv2d({ kernelSize: [kh, kw], depthMultiplier: o / i, strides: [sh, sw], padding: tfSame ? "same" : "valid", useBias: !!bias }),
            weights, transform: (t, n) => (n === 0 ? tf.transpose(tf.reshape(tensor(t), [i, o / i, kh, kw]), [2, 3, 0, 1]) : tensor(t)), torchKey: key, kind: "depthwise",
          });
        } else steps.push({
          make: () => conv2d({ filters: o, kernelSize: [kh, kw], strides: [sh, sw], dilationRate: [dh, dw], padding: tfSame ? "same" : "valid", useBias: !!bias }),
          weights, transform: (t, n) => (n === 0 ? tf.transpose(tensor(t), [2, 3, 1, 0]) : tensor(t)), torchKey: key, kind: "conv",
        });
        const h = shape[1] === null ? null : shape[1]! + ph0 + ph1, wd = shape[2] === null ? null : shape[2]! + pw0 + pw1;
        shape = [o, out(h, kh, sh, 0, dh), out(wd, kw, sw, 0, dw)];
        break;
      }
      case "Linear": {
        const w = param(m, "weight", where)!;
        const bias = param(m, "bias", where, false);
        const [o, i] = w.shape as [number, number];
        if (shape.length !== 1 || shape[0] !== i) throw new TorchModuleError(`${where}: expects [${i}] features, gets [${shape}]`);
        steps.push({ make: () => tfl.layers.dense({ units: o, useBias: !!bias }), weights: bias ? [w, bias] : [w],
          transform: (t, n) => (n === 0 ? tf.transpose(tensor(t)) : tensor(t)), torchKey: key, kind: "linear" });
        shape = [o];
        break;
      }
      case "BatchNorm1d": case "BatchNorm2d": {
        if ((type === "BatchNorm2d") !== spatial()) throw new TorchModuleError(`${where}: unsupported input shape [${shape}]`);
        const mean = param(m, "running_mean", where, false), variance = param(m, "running_var", where, false);
        if (!mean || !variance) throw new TorchModuleError(`${where}: track_running_stats=False is not supported (no running statistics)`);
        const gamma = param(m, "weight", where, false), beta = param(m, "bias", where, false);
        const momentum = typeof attr("momentum") === "number" ? (attr("momentum") as number) : 0.1;
        steps.push({
          // Keras' momentum weighs the old moving value, PyTorch's the new batch statistic.
          make: () => tfl.layers.batchNormalization({ axis: -1, epsilon: attr("eps") as number, momentum: 1 - momentum, center: !!beta, scale: !!gamma }),
          weights: [gamma, beta, mean, variance].filter((t): t is TorchTensor => !!t), transform: (t) => tensor(t), torchKey: key, kind: "batchnorm",
        });
        break;
      }
      case "MaxPool2d": case "AvgPool2d": {
        if (!spatial()) throw new TorchModuleError(`${where}: needs a [C,H,W] input, got [${shape}]`);
        const [kh, kw] = pair(attr("kernel_size"), `${where} kernel_size`);
        const [sh, sw] = pair(attr("stride") ?? attr("kernel_size"), `${where} stride`);
        const [ph, pw] = pair(attr("padding") ?? 0, `${where} padding`);
        if (type === "MaxPool2d" && pair(attr("dilation") ?? 1, where).some((d) => d !== 1)) throw new TorchModuleError(`${where}: dilation is not supported`);
        if (attr("divisor_override") !== null && attr("divisor_override") !== undefined) throw new TorchModuleError(`${where}: divisor_override is not supported`);
        // PyTorch's output size; ceil_mode rounds up, but a window may not start in the right/bottom padding.
        const ceil = attr("ceil_mode") === true;
        const size = (n: number | null, k: number, s: number, p: number) => {
          if (n === null || !ceil) return out(n, k, s, p);
          const o = Math.ceil((n + 2 * p - k) / s) + 1;
          return (o - 1) * s >= n + p ? o - 1 : o;
        };
        const [oh, ow] = [size(shape[1]!, kh, sh, ph), size(shape[2]!, kw, sw, pw)];
        if (ceil && (shape[1] === null || shape[2] === null)) throw new TorchModuleError(`${where}: ceil_mode=True needs a known input size (set input_shape)`);
        const ceilWindows = oh !== out(shape[1]!, kh, sh, ph) || ow !== out(shape[2]!, kw, sw, pw);
        if (ph + pw > 0 || ceilWindows) {
          // Max-pool pads with -inf, ceil_mode's extra windows see only the input: neither is zero padding,
          // but both are TF 'same' pooling (pads not counted) when the windows coincide.
          if (type === "AvgPool2d" && attr("count_include_pad") !== false && ph + pw > 0) {
            if (ceilWindows) throw new TorchModuleError(`${where}: ceil_mode=True with padding and count_include_pad=True is not supported for this input size`);
            steps.push({ make: () => tfl.layers.zeroPadding2d({ padding: [[ph, ph], [pw, pw]] }) });
          } else {
            const same = (n: number | null, k: number, s: number, p: number) => n !== null && Math.ceil(n / s) === size(n, k, s, p) && Math.floor(Math.max((Math.ceil(n / s) - 1) * s + k - n, 0) / 2) === p;
            if (!same(shape[1]!, kh, sh, ph) || !same(shape[2]!, kw, sw, pw)) {
              throw new TorchModuleError(`${where}: ${ceilWindows ? "ceil_mode=True" : `padding ${ph},${pw}`} is not supported for this input size [${shape}] (only where it equals TF 'same' pooling)`);
            }
            const make = type === "MaxPool2d" ? tfl.layers.maxPooling2d : tfl.layers.averagePooling2d;
            steps.push({ make: () => make({ poolSize: [kh, kw], strides: [sh, sw], padding: "same" }) });
            shape = [shape[0]!, oh, ow];
            break;
          }
        }
        const make = type === "MaxPool2d" ? tfl.layers.maxPooling2d : tfl.layers.averagePooling2d;
        steps.push({ make: () => make({ poolSize: [kh, kw], strides: [sh, sw], padding: "valid" }) });
        shape = [shape[0]!, oh, ow];
        break;
      }
      case "AdaptiveAvgPool2d": {
        if (!spatial()) throw new TorchModuleError(`${where}: needs a [C,H,W] input, got [${shape}]`);
        const [c, h, w] = shape as [number, number | null, number | null];
        const size = attr("output_size");
        // None in output_size keeps that side.
        const [oh, ow] = Array.isArray(size) ? [size[0] ?? h, size[1] ?? w] : [size, size];
        if (oh === 1 && ow === 1) {
          // Global pooling drops H and W; PyTorch keeps them as 1x1.
          steps.push({ make: () => tfl.layers.globalAveragePooling2d({}) }, { make: () => tfl.layers.reshape({ targetShape: [1, 1, c] }) });
          shape = [c, 1, 1];
          break;
        }
        // Where the output size divides the input, PyTorch's adaptive windows are plain k x k blocks.
        if (typeof oh !== "number" || typeof ow !== "number" || h === null || w === null || h % oh !== 0 || w % ow !== 0) {
          throw new TorchModuleError(`${where}: output_size ${JSON.stringify(size)} is supported only as 1 or where it divides the input size (here [${shape.join(", ")}])`);
        }
        steps.push({ make: () => tfl.layers.averagePooling2d({ poolSize: [h / oh, w / ow], strides: [h / oh, w / ow], padding: "valid" }) });
        shape = [c, oh, ow];
        break;
      }
      case "Flatten": {
        if (attr("start_dim") !== 1 || (attr("end_dim") !== -1 && attr("end_dim") !== shape.length)) throw new TorchModuleError(`${where}: only start_dim=1, end_dim=-1 is supported`);
        if (spatial()) toNchw();
        if (shape.length > 1) steps.push({ make: () => tfl.layers.flatten() });
        shape = [shape.some((s) => s === null) ? null : shape.reduce((a, b) => a! * b!, 1)];
        break;
      }
      case "ReLU": case "ReLU6": case "Tanh": case "Sigmoid":
        steps.push({ make: () => tfl.layers.activation({ activation: ({ ReLU: "relu", ReLU6: "relu6", Tanh: "tanh", Sigmoid: "sigmoid" } as const)[type] }) });
        break;
      case "GELU": {
        // PyTorch's default is the exact x * Phi(x) (tfjs "gelu", via erf); approximate="tanh" has its own layer.
        const approximate = attr("approximate") ?? "none";
        if (approximate !== "none" && approximate !== "tanh") throw new TorchModuleError(`${where}: approximate=${String(approximate)} is not supported (none or tanh)`);
        steps.push({ make: () => (approximate === "tanh" ? (new TorchGeluTanh({}) as unknown as Layer) : tfl.layers.activation({ activation: "gelu" })) });
        break;
      }
      case "LeakyReLU":
        steps.push({ make: () => tfl.layers.leakyReLU({ alpha: (attr("negative_slope") as number) ?? 0.01 }) });
        break;
      case "ELU": {
        const alpha = (attr("alpha") as number) ?? 1;
        steps.push({ make: () => (alpha === 1 ? tfl.layers.elu({}) : (new TorchELU({ alpha }) as unknown as Layer)) });
        break;
      }
      case "Softmax": case "LogSoftmax": {
        const axis = axisOf(attr("dim"), where);
        steps.push({ make: () => (type === "Softmax" ? tfl.layers.softmax({ axis }) : (new LogSoftmax({ axis }) as unknown as Layer)) });
        break;
      }
      case "Hardtanh": {
        const [min, max] = [attr("min_val") as number, attr("max_val") as number];
        steps.push({ make: () => new Clip({ min, max }) as unknown as Layer });
        break;
      }
      case "Dropout": case "Dropout2d": {
        // Dropout2d zeroes whole channels in training: one draw per sample and channel (NHWC noise shape [N, 1, 1, C]).
        const rate = (attr("p") as number) ?? 0.5;
        const c = shape[0]!;
        const channels = type === "Dropout2d" && spatial();
        steps.push({ make: () => tfl.layers.dropout({ rate, ...(channels ? { noiseShape: [null, 1, 1, c] as unknown as number[] } : {}) }) });
        break;
      }
      case "Identity":
        break;
      default:
        throw new TorchModuleError(`${where}: unsupported module ${m.cls}; supported: ${SUPPORTED_MODULES.join(", ")}`);
    }
  }
  if (shape.some((d) => d !== null && d < 1)) throw new TorchModuleError(`input too small: output shape [${shape}]`);
  if (spatial()) toNchw();
  return { steps, output: shape };
}

/** Builds the tfjs model; `torchKeys` tells which layer holds which state_dict prefix. */
export function buildFromModules(modules: [string, PyObject][], inputShape: Shape, name: string): { model: tfl.LayersModel; torchKeys: TorchKey[] } {
  const { steps } = plan(modules, inputShape);
  const input = tfl.input({ shape: inputShape, name: "input" });
  let x = input;
  const made = steps.map((s) => { const layer = s.make(); x = layer.apply(x) as tfl.SymbolicTensor; return layer; });
  const model = tfl.model({ inputs: input, outputs: x, name });
  const torchKeys: TorchKey[] = [];
  steps.forEach((s, i) => {
    if (!s.weights) return;
    const layer = made[i]!;
    tf.tidy(() => layer.setWeights(s.weights!.map((t, n) => s.transform!(t, n))));
    torchKeys.push({ layerIndex: model.layers.indexOf(layer), prefix: s.torchKey!, kind: s.kind as TorchKey["kind"] });
  });
  return { model, torchKeys };
}
