/**
 * Which models the graph trainer can express, read from the layers' configs: a plain chain of
 * layers it knows (see the switch below and the README's Training backends), relu, elu, selu,
 * sigmoid, tanh and linear activations, softmax only as the last layer's under categorical or
 * sparse categorical cross-entropy, sigmoid last under binary cross-entropy, or mean squared
 * error on anything but softmax. Layers the graph builds from 2-D ops (Conv1D, 1-D pools, Dense
 * on sequences) are planned as those ops between reshapes. Anything else gets a reason instead
 * of a plan, and the model trains with fit.
 */
import type { LayersModel } from "../tfjs.js";
import { tfl } from "../tfjs.js";

export type Activation = "relu" | "elu" | "selu" | "sigmoid" | "tanh" | "linear" | "softmax";
export type LossKind = "categorical" | "sparse" | "binary" | "mse";

interface Weighted { kernel: number; bias: number | undefined; activation: Activation }
export type LayerStep =
  /**
   * Conv2D, or (depthwise) DepthwiseConv2D and a SeparableConv2D's first half; a Conv1D as a
   * Conv2D over a one-row image, its [k, in, out] kernel (`weightShape`) viewed as [1, k, in, out].
   */
  | ({ kind: "conv2d"; depthwise: boolean; kernelShape: number[]; weightShape?: number[]; strides: [number, number]; padding: "VALID" | "SAME" } & Weighted)
  | ({ kind: "dense"; kernelShape: number[] } & Weighted)
  | { kind: "pool"; op: "MaxPool" | "AvgPool"; size: [number, number]; strides: [number, number]; padding: "VALID" | "SAME" }
  | { kind: "flatten"; units: number }
  /** Embedding, only as the first layer (its input is the model's, ids as floats): rows of `weight` [vocabulary, dims]. */
  | { kind: "embedding"; weight: number; vocabulary: number; dims: number }
  | { kind: "reshape"; shape: number[] }
  /** ZeroPadding2D: [[top, bottom], [left, right]]. */
  | { kind: "pad"; pads: [[number, number], [number, number]] }
  | { kind: "dropout"; rate: number; index: number }
  | { kind: "activation"; activation: Activation }
  /** LeakyReLU (alpha) and ReLU capped at 6 (Keras' ReLU(max_value=6)): their gradients take the layer's input. */
  | { kind: "leakyRelu"; alpha: number }
  | { kind: "relu6" }
  /** BatchNormalization over the last axis in training mode: batch statistics; `norm` indexes LayerPlan.norms. */
  | { kind: "batchNorm"; gamma: number; beta: number; channels: number; rank: number; epsilon: number; norm: number };

/** A BatchNormalization layer's moving statistics, which each training step moves toward the batch's. */
export interface MovingStats { mean: tfl.LayerVariable; variance: tfl.LayerVariable; momentum: number }

export interface LayerPlan {
  steps: LayerStep[];
  loss: LossKind;
  /** The model reports accuracy (`acc`/`accuracy` among its metrics). */
  accuracy: boolean;
  /** Output units of the last layer (1: accuracy by rounding, as Keras). */
  units: number;
  /** Rank of the model's output, batch included. */
  outputRank: number;
  /** The input's shape without the batch dimension. */
  inputShape: number[];
  dropouts: number;
  /** The BatchNormalization layers' moving statistics, in layer order. */
  norms: MovingStats[];
}

const ACTIVATIONS = new Set(["relu", "elu", "selu", "sigmoid", "tanh", "linear", "softmax"]);
const LOSSES: Record<string, LossKind> = { categoricalcrossentropy: "categorical", sparsecategoricalcrossentropy: "sparse", binarycrossentropy: "binary", meansquarederror: "mse", mse: "mse" };

type Config = Record<string, unknown>;
const pair = (v: unknown): [number, number] => (Array.isArray(v) ? [Number(v[0]), Number(v[1] ?? v[0])] : [Number(v), Number(v)]);
const isOnes = (v: unknown): boolean => v == null || pair(v).every((n) => n === 1);

class Unsupported extends Error {}
const fail = (why: string): never => { throw new Unsupported(why); };

/** The model as graph-training steps, or the reason it cannot be trained through a graph. */
export function planLayers(model: LayersModel): LayerPlan | string {
  try {
    return plan(model);
  } catch (err) {
    if (err instanceof Unsupported) return err.message;
    throw err;
  }
}

function plan(model: LayersModel): LayerPlan {
  if (!model.optimizer) fail("the model is not compiled");
  if (model.inputs.length !== 1 || model.outputs.length !== 1) fail("it has several inputs or outputs");
  if (model.inputs[0]!.dtype !== "float32") fail(`its input is ${model.inputs[0]!.dtype}, not float32`);
  // The only non-trainable weights the graph handles are BatchNormalization's moving statistics.
  const moving = new Set(model.layers.filter((l) => l.getClassName() === "BatchNormalization").flatMap((l) => l.weights.filter((w) => /moving_(mean|variance)$/.test(w.originalName))));
  if (model.nonTrainableWeights.some((w) => !moving.has(w))) fail("it has non-trainable weights (other than BatchNormalization's moving statistics)");
  const lossName = (model as unknown as { loss?: unknown }).loss;
  const name = Array.isArray(lossName) && lossName.length === 1 ? lossName[0] : lossName;
  if (typeof name !== "string") fail("its loss is a custom function");
  const loss = LOSSES[(name as string).toLowerCase().replace(/[_\s-]/g, "")] ?? fail(`its loss ${String(name)} is not one the graph computes (categorical, sparse categorical or binary cross-entropy, mean squared error)`);
  const weightIndex = new Map(model.trainableWeights.map((w, k) => [w, k]));
  const steps: LayerStep[] = [];
  let previous: unknown;
  let dropouts = 0;
  const norms: MovingStats[] = [];
  for (const layer of model.layers) {
    const cls = layer.getClassName();
    const config = layer.getConfig() as Config;
    checkChain(layer, previous);
    previous = layer;
    if (cls === "InputLayer") continue;
    if (layer.trainable === false && layer.weights.length > 0) fail(`layer ${layer.name} is frozen`);
    for (const [k, v] of Object.entries(config)) {
      if (/(regularizer|constraint)$/i.test(k) && v != null) fail(`layer ${layer.name} has a ${k}`);
    }
    const weight = (w: tfl.LayerVariable | undefined) => (w === undefined ? undefined : weightIndex.get(w) ?? fail(`layer ${layer.name}'s weight ${w.name} is not trainable`));
    const activation = () => {
      const a = String(config.activation ?? "linear");
      return ACTIVATIONS.has(a) ? (a as Activation) : fail(`layer ${layer.name}'s activation ${a} is not relu, elu, selu, sigmoid, tanh, linear or softmax`);
    };
    switch (cls) {
      case "Conv2D":
      case "DepthwiseConv2D":
      case "SeparableConv2D": {
        if (config.dataFormat !== "channelsLast") fail(`layer ${layer.name} is channels_first`);
        if (!isOnes(config.dilationRate)) fail(`layer ${layer.name} is dilated`);
        if (config.padding !== "valid" && config.padding !== "same") fail(`layer ${layer.name} has padding ${String(config.padding)}`);
        const named = (suffix: string) => layer.trainableWeights.find((w) => w.originalName.endsWith(`/${suffix}`));
        const bias = weight(config.useBias ? named("bias") : undefined);
        const conv = { strides: pair(config.strides), padding: config.padding === "same" ? "SAME" as const : "VALID" as const };
        if (cls === "Conv2D") {
          const kernel = named("kernel")!;
          steps.push({ kind: "conv2d", depthwise: false, kernel: weight(kernel)!, bias, activation: activation(), kernelShape: kernel.shape as number[], ...conv });
        } else {
          const depthwise = named("depthwise_kernel")!;
          // SeparableConv2D: the depthwise part (strided, no bias), then a 1x1 convolution with bias and activation.
          const pointwise = cls === "SeparableConv2D" ? named("pointwise_kernel")! : undefined;
          steps.push({ kind: "conv2d", depthwise: true, kernel: weight(depthwise)!, bias: pointwise ? undefined : bias, activation: pointwise ? "linear" : activation(), kernelShape: depthwise.shape as number[], ...conv });
          if (pointwise) steps.push({ kind: "conv2d", depthwise: false, kernel: weight(pointwise)!, bias, activation: activation(), kernelShape: pointwise.shape as number[], strides: [1, 1], padding: "VALID" });
        }
        break;
      }
      case "Dense": {
        // On [batch, ..., in]: a 2-D Dense on [batch * ..., in], reshaped back to [batch, ..., units].
        const inner = (layer.input as tfl.SymbolicTensor).shape.slice(1, -1);
        if (!inner.every((d) => typeof d === "number" && d > 0)) fail(`layer ${layer.name} takes an input of unknown size`);
        const [kernel, bias] = layer.trainableWeights;
        const [units, out] = kernel!.shape as number[];
        const act = activation();
        if (inner.length > 0 && act === "softmax") fail(`layer ${layer.name} applies softmax to a rank-${inner.length + 2} output (only [batch, classes])`);
        if (inner.length > 0) steps.push({ kind: "flatten", units: units! });
        steps.push({ kind: "dense", kernel: weight(kernel)!, bias: weight(config.useBias ? bias : undefined), activation: act, kernelShape: kernel!.shape as number[] });
        if (inner.length > 0) steps.push({ kind: "reshape", shape: [...(inner as number[]), out!] });
        break;
      }
      case "MaxPooling2D":
      case "AveragePooling2D":
        if (config.dataFormat !== "channelsLast") fail(`layer ${layer.name} is channels_first`);
        steps.push({ kind: "pool", op: cls === "MaxPooling2D" ? "MaxPool" : "AvgPool", size: pair(config.poolSize), strides: pair(config.strides ?? config.poolSize), padding: config.padding === "same" ? "SAME" : "VALID" });
        break;
      case "GlobalMaxPooling2D":
      case "GlobalAveragePooling2D": {
        // A pool over the whole image, then [batch, channels].
        if (config.dataFormat === "channelsFirst") fail(`layer ${layer.name} is channels_first`);
        const [, h, w, c] = (layer.input as tfl.SymbolicTensor).shape as number[];
        if (!(h! > 0 && w! > 0)) fail(`layer ${layer.name} pools an image of unknown size`);
        const whole: [number, number] = [h!, w!];
        steps.push({ kind: "pool", op: cls === "GlobalMaxPooling2D" ? "MaxPool" : "AvgPool", size: whole, strides: whole, padding: "VALID" });
        steps.push({ kind: "flatten", units: c! });
        break;
      }
      case "Flatten":
        if (config.dataFormat === "channelsFirst") fail(`layer ${layer.name} is channels_first`);
        const units = (layer.output as tfl.SymbolicTensor).shape[1];
        if (!(typeof units === "number" && units > 0)) fail(`layer ${layer.name} flattens an input of unknown size`);
        steps.push({ kind: "flatten", units: units as number });
        break;
      case "Conv1D":
      case "MaxPooling1D":
      case "AveragePooling1D": {
        // [batch, steps, channels] as a one-row image [batch, 1, steps, channels], and back.
        const [, length, c] = (layer.input as tfl.SymbolicTensor).shape as number[];
        const [, outLength, outC] = (layer.output as tfl.SymbolicTensor).shape as number[];
        if (![length, c, outLength, outC].every((d) => typeof d === "number" && d > 0)) fail(`layer ${layer.name} takes or gives a sequence of unknown length`);
        if (config.dataFormat === "channelsFirst") fail(`layer ${layer.name} is channels_first`);
        if (config.padding !== "valid" && config.padding !== "same") fail(`layer ${layer.name} has padding ${String(config.padding)}`);
        const padding = config.padding === "same" ? "SAME" as const : "VALID" as const;
        const stride = pair(config.strides)[0];
        steps.push({ kind: "reshape", shape: [1, length!, c!] });
        if (cls === "Conv1D") {
          if (!isOnes(config.dilationRate)) fail(`layer ${layer.name} is dilated`);
          const [kernel, bias] = layer.trainableWeights;
          const shape = kernel!.shape as number[];
          steps.push({ kind: "conv2d", depthwise: false, kernel: weight(kernel)!, bias: weight(config.useBias ? bias : undefined), activation: activation(), kernelShape: [1, ...shape], weightShape: shape, strides: [1, stride], padding });
        } else {
          const size = pair(config.poolSize)[0];
          steps.push({ kind: "pool", op: cls === "MaxPooling1D" ? "MaxPool" : "AvgPool", size: [1, size], strides: [1, stride], padding });
        }
        steps.push({ kind: "reshape", shape: [outLength!, outC!] });
        break;
      }
      case "Embedding": {
        if (steps.length > 0) fail(`layer ${layer.name} is an Embedding after other layers (only as the first layer)`);
        if (config.maskZero) fail(`layer ${layer.name} masks zeros`);
        const embeddings = layer.trainableWeights[0]!;
        const [vocabulary, dims] = embeddings.shape as number[];
        steps.push({ kind: "embedding", weight: weight(embeddings)!, vocabulary: vocabulary!, dims: dims! });
        break;
      }
      case "GlobalMaxPooling1D":
      case "GlobalAveragePooling1D": {
        // [batch, steps, channels] as a one-column image: a pool over the steps, then [batch, channels].
        const [, length, c] = (layer.input as tfl.SymbolicTensor).shape as number[];
        if (!(length! > 0 && c! > 0)) fail(`layer ${layer.name} pools a sequence of unknown length`);
        steps.push({ kind: "reshape", shape: [length!, 1, c!] });
        steps.push({ kind: "pool", op: cls === "GlobalMaxPooling1D" ? "MaxPool" : "AvgPool", size: [length!, 1], strides: [length!, 1], padding: "VALID" });
        steps.push({ kind: "flatten", units: c! });
        break;
      }
      case "Reshape": {
        const shape = (layer.output as tfl.SymbolicTensor).shape.slice(1);
        if (!shape.every((d) => typeof d === "number" && d > 0)) fail(`layer ${layer.name} reshapes to [${shape.join(", ")}] (unknown sizes)`);
        steps.push({ kind: "reshape", shape: shape as number[] });
        break;
      }
      case "ZeroPadding2D": {
        if (config.dataFormat === "channelsFirst") fail(`layer ${layer.name} is channels_first`);
        const [rows, cols] = config.padding as [[number, number], [number, number]];
        steps.push({ kind: "pad", pads: [[rows[0], rows[1]], [cols[0], cols[1]]] });
        break;
      }
      case "Dropout":
        if (config.noiseShape != null) fail(`layer ${layer.name} has a noise shape`);
        steps.push({ kind: "dropout", rate: Number(config.rate), index: dropouts++ });
        break;
      case "Activation":
        steps.push({ kind: "activation", activation: activation() });
        break;
      case "BatchNormalization": {
        const rank = (layer.input as tfl.SymbolicTensor).shape.length;
        const axis = Number(config.axis ?? -1);
        if (axis !== -1 && axis !== rank - 1) fail(`layer ${layer.name} normalizes axis ${axis}, not the last`);
        if (rank !== 2 && rank !== 4) fail(`layer ${layer.name} normalizes a rank-${rank} input (only 2 or 4)`);
        // tfjs-layers 4.22 cannot train these either (its training branch reads gamma and beta).
        if (config.scale === false || config.center === false) fail(`layer ${layer.name} has no ${config.scale === false ? "scale" : "center"}`);
        const named = (suffix: string) => layer.weights.find((w) => w.originalName.endsWith(`/${suffix}`));
        const [mean, variance] = [named("moving_mean"), named("moving_variance")];
        if (!mean || !variance) fail(`layer ${layer.name} has no moving statistics`);
        norms.push({ mean: mean!, variance: variance!, momentum: Number(config.momentum ?? 0.99) });
        steps.push({ kind: "batchNorm", gamma: weight(named("gamma"))!, beta: weight(named("beta"))!, channels: mean!.shape[0]!, rank, epsilon: Number(config.epsilon ?? 1e-3), norm: norms.length - 1 });
        break;
      }
      case "LeakyReLU":
        steps.push({ kind: "leakyRelu", alpha: Number(config.alpha ?? 0.3) });
        break;
      case "ReLU": {
        const max = config.maxValue;
        if (max == null) steps.push({ kind: "activation", activation: "relu" });
        else if (Number(max) === 6) steps.push({ kind: "relu6" });
        else fail(`layer ${layer.name} caps ReLU at ${String(max)} (only 6 or none)`);
        break;
      }
      default:
        fail(`layer ${layer.name} is a ${cls} (the graph trainer knows Embedding, Conv1D, MaxPooling1D, AveragePooling1D, Conv2D, DepthwiseConv2D, SeparableConv2D, Dense, MaxPooling2D, AveragePooling2D, GlobalMaxPooling2D, GlobalAveragePooling2D, GlobalMaxPooling1D, GlobalAveragePooling1D, BatchNormalization, ZeroPadding2D, Flatten, Reshape, Dropout, Activation, LeakyReLU, ReLU)`);
    }
  }
  checkSoftmax(steps, loss);
  const outShape = model.outputs[0]!.shape;
  if (loss !== "mse" && outShape.length !== 2) fail(`cross-entropy on a rank-${outShape.length} output (only [batch, classes])`);
  const accuracy = model.metricsNames.some((n) => n === "acc" || n === "accuracy");
  const other = model.metricsNames.find((n) => n !== "loss" && n !== "acc" && n !== "accuracy");
  if (other) fail(`its metric ${other} is not one the graph computes (only loss and accuracy)`);
  return { steps, loss, accuracy, units: Number(outShape[outShape.length - 1] ?? 1), outputRank: outShape.length, inputShape: model.inputs[0]!.shape.slice(1) as number[], dropouts, norms };
}

/** Each layer must take the previous one's output, and only that (a plain chain). */
function checkChain(layer: tfl.layers.Layer, previous: unknown): void {
  const nodes = layer.inboundNodes.filter((n) => n.outboundLayer === layer);
  if (nodes.length > 1) fail(`layer ${layer.name} is applied more than once`);
  const inbound = nodes[0]?.inboundLayers ?? [];
  const isSequentialFirst = previous === undefined && inbound.every((l) => l.getClassName() === "InputLayer");
  if (!isSequentialFirst && (inbound.length !== 1 || inbound[0] !== previous)) fail(`layer ${layer.name} is not fed by the layer before it alone (only plain chains of layers)`);
}

/**
 * The cross-entropies are computed from the logits (as Keras 3 does), so the last layer's
 * activation belongs to the loss: softmax for the categorical ones, sigmoid for binary. Softmax
 * may appear nowhere else.
 */
function checkSoftmax(steps: LayerStep[], loss: LossKind): void {
  steps.forEach((s, k) => {
    if (!("activation" in s) || s.activation !== "softmax") return;
    if (k !== steps.length - 1) fail("a softmax activation before the last layer");
    if (loss === "mse") fail("softmax under mean squared error");
  });
  const last = steps[steps.length - 1];
  const activation = last && "activation" in last ? last.activation : undefined;
  if ((loss === "categorical" || loss === "sparse") && activation !== "softmax") fail("cross-entropy without a softmax last layer");
  if (loss === "binary" && activation !== "sigmoid") fail("binary cross-entropy without a sigmoid last layer");
}
