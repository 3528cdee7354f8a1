/**
 * ONNX graph -> trainable TF.js layers model with ONNX's (NCHW) semantics, like the PyTorch
 * importer: 4-D values are held NHWC inside (tracked per value), inputs and outputs are NCHW.
 * Constant bias `Add`s after Conv / MatMul (CNTK, Keras2ONNX) are folded into that layer's bias
 * so the bias stays trainable. Weights may come from raw_data or float_data/int64_data, and may
 * also be listed as graph inputs (IR < 4): those are not model inputs.
 */
import { tf, tfl, type LayersModel } from "../tfjs.js";
import { Clip, LogSoftmax, TorchELU } from "../pytorch/layers.js";
import { conv2d } from "../atrous-conv.js";
import type { OnnxModel, OnnxNode, OnnxTensor } from "./proto.js";

export const SUPPORTED_OPS = ["Conv", "Gemm", "MatMul", "Add", "Relu", "LeakyRelu", "Elu", "Tanh", "Sigmoid", "Clip", "MaxPool", "AveragePool",
  "GlobalAveragePool", "BatchNormalization", "Flatten", "Reshape", "Pad", "Constant", "Softmax", "LogSoftmax", "Dropout", "Identity"];

type Sym = tfl.SymbolicTensor;
interface Value { t: Sym; spatial: boolean }
type Layer = InstanceType<typeof tfl.layers.Layer>;

export function onnxToLayers(onnx: OnnxModel, source: string, name = "onnx_model"): LayersModel {
  const { graph, opset } = onnx;
  const consts = graph.initializers;
  const values = new Map<string, Value>();
  const uses = new Map<string, number>();
  const folded = new Set<OnnxNode>();
  for (const n of graph.nodes) for (const i of n.inputs) uses.set(i, (uses.get(i) ?? 0) + 1);
  const fail = (n: OnnxNode, m: string): never => { throw new Error(`${source}: node ${n.name || n.outputs[0]} (${n.opType}): ${m}`); };

  const inputs = graph.inputs.filter((i) => !consts.has(i.name));
  if (inputs.length !== 1) throw new Error(`${source}: ${inputs.length} graph inputs; only single-input models are supported`);
  const inInfo = inputs[0]!;
  const input = tfl.input({ shape: inInfo.dims.slice(1).map((d) => (d && d > 0 ? d : null)), name: "input" });
  values.set(inInfo.name, inInfo.dims.length === 4 ? { t: tfl.layers.permute({ dims: [2, 3, 1] }).apply(input) as Sym, spatial: true } : { t: input, spatial: false });

  const apply = (layer: Layer, v: Value, spatial = v.spatial, weights?: tf.Tensor[]): Value => {
    const t = layer.apply(v.t) as Sym;
    if (weights) { layer.setWeights(weights); weights.forEach((w) => w.dispose()); }
    return { t, spatial };
  };
  const toNchw = (v: Value): Value => (v.spatial ? apply(tfl.layers.permute({ dims: [3, 1, 2] }), v, false) : v);
  const constOf = (n: OnnxNode, i: number): OnnxTensor => consts.get(n.inputs[i]!) ?? fail(n, `input ${n.inputs[i]} must be a constant initializer`);
  const f32 = (t: OnnxTensor, shape = t.dims) => tf.tensor(t.floats ?? Float32Array.from(t.ints ?? []), shape, "float32");
  const ints = (n: OnnxNode, a: string, d: number[]) => n.attributes.get(a)?.ints ?? d;
  const num = (n: OnnxNode, a: string, d: number) => n.attributes.get(a)?.i ?? n.attributes.get(a)?.f ?? d;
  /** A bias folded from the only consumer of `out`, when that is Add(out, constant). */
  const foldBias = (out: string, width: number): { bias: Float32Array; alias: string } | undefined => {
    if (uses.get(out) !== 1) return undefined;
    const add = graph.nodes.find((m) => m.opType === "Add" && m.inputs.includes(out));
    const other = add?.inputs.find((i) => i !== out);
    const c = other !== undefined ? consts.get(other) : undefined;
    if (!add || !c?.floats || c.floats.length !== width) return undefined;
    folded.add(add);
    return { bias: c.floats, alias: add.outputs[0]! };
  };

  for (const n of graph.nodes) {
    if (folded.has(n)) continue;
    if (n.opType === "Constant") {
      const t = n.attributes.get("value")?.t ?? fail(n, "only tensor-valued Constant nodes are supported");
      consts.set(n.outputs[0]!, t);
      continue;
    }
    // Reshapes of weights (CNTK reshapes its MatMul matrix in the graph) are folded into constants.
    if (n.opType === "Reshape" && consts.has(n.inputs[0]!)) {
      const t = consts.get(n.inputs[0]!)!;
      const target = (n.inputs[1] ? constOf(n, 1).ints : ints(n, "shape", [])) ?? fail(n, "shape must be int64");
      const dims = target.map((d, i) => (d === 0 ? t.dims[i]! : d));
      const known = dims.reduce((a, d) => (d === -1 ? a : a * d), 1);
      consts.set(n.outputs[0]!, { ...t, dims: dims.map((d) => (d === -1 ? t.dims.reduce((a, b) => a * b, 1) / known : d)) });
      continue;
    }
    const x = values.get(n.inputs[0]!) ?? fail(n, `input ${n.inputs[0]} is not computed from the model input (only constant weights may be initializers)`);
    let y: Value;
    let outName = n.outputs[0]!;
    switch (n.opType) {
      case "Conv": {
        if (!x.spatial) fail(n, "needs an NCHW input");
        const w = constOf(n, 1);
        const [o, perGroup, kh, kw] = w.dims as [number, number, number, number];
        const group = num(n, "group", 1), c = x.t.shape[3]!;
        // group = input channels is a depthwise conv (tfjs DepthwiseConv2D); other groupings have no tfjs layer.
        const depthwise = group !== 1;
        if (depthwise && !(group === c && perGroup === 1 && o % c === 0)) fail(n, `group=${group} is not supported (only 1, or the number of input channels: depthwise)`);
        const [sh, sw] = ints(n, "strides", [1, 1]) as [number, number];
        const [dh, dw] = ints(n, "dilations", [1, 1]) as [number, number];
        const autoPad = n.attributes.get("auto_pad")?.s ?? "NOTSET";
        const [pt, pl, pb, pr] = ints(n, "pads", [0, 0, 0, 0]) as [number, number, number, number];
        const same = autoPad === "SAME_UPPER" || (autoPad === "NOTSET" && sh === 1 && sw === 1 && pt + pb === dh * (kh - 1) && pl + pr === dw * (kw - 1)
          && pt === Math.floor((pt + pb) / 2) && pl === Math.floor((pl + pr) / 2) && pt + pb + pl + pr > 0);
        if (autoPad === "SAME_LOWER") fail(n, "auto_pad SAME_LOWER is not supported");
        let v = x;
        if (!same && pt + pb + pl + pr > 0) v = apply(tfl.layers.zeroPadding2d({ padding: [[pt, pb], [pl, pr]] }), v);
        const fold = n.inputs[2] ? undefined : foldBias(n.outputs[0]!, o);
        if (fold) outName = fold.alias;
        const bias = n.inputs[2] ? constOf(n, 2).floats : fold?.bias;
        if (depthwise && (dh > 1 || dw > 1)) fail(n, "a depthwise (grouped) Conv with dilations > 1 is not supported (tfjs' DepthwiseConv2D has no dilation)");
        if (depthwise) {
          // [C*M, 1, kh, kw] -> [kh, kw, C, M]: output channel c*M + m in both.
          const dk = tf.tidy(() => tf.transpose(tf.reshape(f32(w), [c, o / c, kh, kw]), [2, 3, 0, 1]));
          y = apply(tfl.layers.depthwiseConv2d({ kernelSize: [kh, kw], depthMultiplier: o / c, strides: [sh, sw], padding: same ? "same" : "valid", useBias: !!bias }),
            v, true, bias ? [dk, tf.tensor1d(bias)] : [dk]);
          break;
        }
        const kernel = tf.tidy(() => tf.transpose(f32(w), [2, 3, 1, 0]));
        y = apply(conv2d({ filters: o, kernelSize: [kh, kw], strides: [sh, sw], dilationRate: [dh, dw], padding: same ? "same" : "valid", useBias: !!bias }),
          v, true, bias ? [kernel, tf.tensor1d(bias)] : [kernel]);
        break;
      }
      case "Gemm": case "MatMul": {
        if (x.spatial) fail(n, "needs a 2-D input (add Flatten)");
        if (n.opType === "Gemm" && num(n, "transA", 0) !== 0) fail(n, "transA=1 is not supported");
        const w = constOf(n, 1);
        const transB = n.opType === "Gemm" && num(n, "transB", 0) === 1;
        const units = transB ? w.dims[0]! : w.dims[1]!;
        const alpha = n.opType === "Gemm" ? num(n, "alpha", 1) : 1, beta = n.opType === "Gemm" ? num(n, "beta", 1) : 1;
        const fold = n.inputs[2] ? undefined : foldBias(n.outputs[0]!, units);
        if (fold) outName = fold.alias;
        let bias = n.inputs[2] ? constOf(n, 2).floats : fold?.bias;
        if (bias && bias.length === 1 && units > 1) bias = new Float32Array(units).fill(bias[0]!);
        const kernel = tf.tidy(() => tf.mul(transB ? tf.transpose(f32(w)) : f32(w), alpha));
        y = apply(tfl.layers.dense({ units, useBias: !!bias }), x, false, bias ? [kernel, tf.mul(tf.tensor1d(bias), beta)] : [kernel]);
        break;
      }
      case "Add": {
        const other = values.get(n.inputs[1]!);
        if (!other) fail(n, "adding a constant is only supported right after Conv / MatMul / Gemm (folded into the bias)");
        y = { t: tfl.layers.add().apply([x.t, other!.t]) as Sym, spatial: x.spatial };
        break;
      }
      case "Relu": case "Tanh": case "Sigmoid":
        y = apply(tfl.layers.activation({ activation: ({ Relu: "relu", Tanh: "tanh", Sigmoid: "sigmoid" } as const)[n.opType] }), x);
        break;
      case "LeakyRelu": y = apply(tfl.layers.leakyReLU({ alpha: num(n, "alpha", 0.01) }), x); break;
      case "Elu": {
        const alpha = num(n, "alpha", 1);
        y = apply(Math.abs(alpha - 1) < 1e-7 ? tfl.layers.elu({}) : (new TorchELU({ alpha }) as unknown as Layer), x);
        break;
      }
      case "Clip": {
        const bound = (i: number, attr: string, d: number) => (n.inputs[i] ? constOf(n, i).floats![0]! : opset < 11 ? num(n, attr, d) : d);
        const [min, max] = [bound(1, "min", -Infinity), bound(2, "max", Infinity)];
        y = apply(min === 0 && max === 6 ? tfl.layers.activation({ activation: "relu6" }) : min === 0 && max === Infinity
          ? tfl.layers.activation({ activation: "relu" }) : (new Clip({ min, max }) as unknown as Layer), x);
        break;
      }
      case "MaxPool": case "AveragePool": {
        if (!x.spatial) fail(n, "needs an NCHW input");
        const [kh, kw] = ints(n, "kernel_shape", []) as [number, number];
        const [sh, sw] = ints(n, "strides", [1, 1]) as [number, number];
        const [pt, pl, pb, pr] = ints(n, "pads", [0, 0, 0, 0]) as [number, number, number, number];
        const autoPad = n.attributes.get("auto_pad")?.s ?? "NOTSET";
        if (num(n, "ceil_mode", 0) !== 0) fail(n, "ceil_mode=1 is not supported");
        if (ints(n, "dilations", [1, 1]).some((d) => d !== 1)) fail(n, "dilations are not supported");
        const padded = pt + pl + pb + pr > 0;
        const includePad = n.opType === "AveragePool" && num(n, "count_include_pad", 0) === 1;
        let v = x, padding: "same" | "valid" = autoPad === "SAME_UPPER" ? "same" : "valid";
        if (autoPad === "NOTSET" && padded) {
          if (includePad) v = apply(tfl.layers.zeroPadding2d({ padding: [[pt, pb], [pl, pr]] }), v);
          else {
            // Pads that do not count (max: -inf, avg: excluded) are TF 'same' when the windows coincide.
            const [h, w] = [x.t.shape[1], x.t.shape[2]];
            const ok = (len: number | null, k: number, s: number, p0: number, p1: number) => len != null
              && Math.ceil(len / s) === Math.floor((len + p0 + p1 - k) / s) + 1 && Math.floor(Math.max((Math.ceil(len / s) - 1) * s + k - len, 0) / 2) === p0;
            if (!ok(h ?? null, kh, sh, pt, pb) || !ok(w ?? null, kw, sw, pl, pr)) fail(n, `pads [${pt},${pl},${pb},${pr}] are not supported here`);
            padding = "same";
          }
        } else if (autoPad !== "NOTSET" && autoPad !== "VALID" && autoPad !== "SAME_UPPER") fail(n, `auto_pad ${autoPad} is not supported`);
        const make = n.opType === "MaxPool" ? tfl.layers.maxPooling2d : tfl.layers.averagePooling2d;
        y = apply(make({ poolSize: [kh, kw], strides: [sh, sw], padding }), v);
        break;
      }
      case "Pad": {
        // torch exports AvgPool2d(padding, count_include_pad=True) as Pad + AveragePool.
        const pads = n.inputs[1] ? constOf(n, 1).ints ?? fail(n, "pads must be int64") : ints(n, "pads", []);
        const mode = n.attributes.get("mode")?.s ?? "constant";
        const value = n.inputs[2] ? constOf(n, 2).floats?.[0] ?? 0 : num(n, "value", 0);
        if (!x.spatial || mode !== "constant" || value !== 0 || pads.length !== 8 || pads[0] || pads[1] || pads[4] || pads[5]) fail(n, "only zero padding of H and W is supported");
        y = apply(tfl.layers.zeroPadding2d({ padding: [[pads[2]!, pads[6]!], [pads[3]!, pads[7]!]] }), x);
        break;
      }
      case "GlobalAveragePool": {
        if (!x.spatial) fail(n, "needs an NCHW input");
        const c = x.t.shape[3]!;
        y = apply(tfl.layers.reshape({ targetShape: [1, 1, c] }), apply(tfl.layers.globalAveragePooling2d({}), x, false), true);
        break;
      }
      case "BatchNormalization": {
        const [scale, b, mean, variance] = [1, 2, 3, 4].map((i) => f32(constOf(n, i), [constOf(n, i).floats!.length]));
        y = apply(tfl.layers.batchNormalization({ axis: -1, epsilon: num(n, "epsilon", 1e-5), momentum: num(n, "momentum", 0.9) }), x, x.spatial, [scale!, b!, mean!, variance!]);
        break;
      }
      case "Flatten": {
        if (num(n, "axis", 1) !== 1) fail(n, "only axis=1 is supported");
        y = apply(tfl.layers.flatten(), toNchw(x), false);
        break;
      }
      case "Reshape": {
        const target = n.inputs[1] ? constOf(n, 1).ints ?? fail(n, "shape must be int64") : ints(n, "shape", []);
        // The first entry is the batch: a baked-in batch of 1 (CNTK) is treated as any batch.
        const rest = target.slice(1);
        if (rest.length === 1) { y = apply(tfl.layers.flatten(), toNchw(x), false); break; }
        if (rest.includes(0)) fail(n, "0 (copy) entries are only supported in the batch position");
        const v = apply(tfl.layers.reshape({ targetShape: rest }), toNchw(x), false);
        y = rest.length === 3 ? apply(tfl.layers.permute({ dims: [2, 3, 1] }), v, true) : v;
        break;
      }
      case "Softmax": case "LogSoftmax": {
        const rank = x.t.shape.length;
        let axis = num(n, "axis", opset < 13 ? 1 : -1);
        if (axis < 0) axis += rank;
        if (opset < 13 && axis !== rank - 1) fail(n, "before opset 13 only the last axis is supported");
        const tfAxis = x.spatial ? [0, 3, 1, 2][axis]! : axis;
        y = apply(n.opType === "Softmax" ? tfl.layers.softmax({ axis: tfAxis }) : (new LogSoftmax({ axis: tfAxis }) as unknown as Layer), x);
        break;
      }
      case "Dropout": {
        const ratio = n.inputs[1] && consts.has(n.inputs[1]) ? constOf(n, 1).floats![0]! : (n.attributes.get("ratio")?.f ?? 0.5);
        y = apply(tfl.layers.dropout({ rate: ratio }), x);
        break;
      }
      case "Identity": y = x; break;
      default:
        fail(n, `unsupported operator; supported: ${SUPPORTED_OPS.join(", ")}`);
    }
    values.set(outName, y!);
  }
  if (graph.outputs.length !== 1) throw new Error(`${source}: ${graph.outputs.length} graph outputs; only single-output models are supported`);
  const out = values.get(graph.outputs[0]!.name) ?? (() => { throw new Error(`${source}: output ${graph.outputs[0]!.name} is not computed`); })();
  return tfl.model({ inputs: input, outputs: toNchw(out).t, name });
}
