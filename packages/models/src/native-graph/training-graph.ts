/**
 * The training step of a planned model as a TensorFlow graph: fed the trainable weights, a batch
 * (x, y) and one seed pair per Dropout layer, it returns the batch's mean loss, its count of
 * correct predictions (when the model reports accuracy) and the loss's gradient for every
 * trainable weight, in model.trainableWeights order. The backward pass is written out op by op
 * (TensorFlow's own gradient kernels: Conv2DBackpropFilter/Input, MaxPoolGrad, ReluGrad, ...);
 * nothing but the forward and backward ops of the chain is in the graph, so the session's
 * grappler can fuse Conv2D+BiasAdd+Relu and MatMul+BiasAdd+Relu as it does for Keras.
 */
import { type Attr } from "./graph-def-writer.js";
import { DT_BOOL, DT_FLOAT, DT_INT32, GraphBuilder } from "./graph-builder.js";
import type { Activation, LayerPlan, LayerStep } from "./layer-plan.js";

export interface TrainingGraph {
  builder: GraphBuilder;
  /** Placeholder names to feed, in this order: weights, x, y, then one int32[2] seed per Dropout layer. */
  inputs: string[];
  /** Fetched tensor names: loss, [correct,] one gradient per weight, then each BatchNormalization's batch mean and (biased) variance. */
  outputs: string[];
}

const NHWC: Attr = { s: "NHWC" };
const F: Attr = { type: DT_FLOAT };
const I32: Attr = { type: DT_INT32 };

export function buildTrainingGraph(plan: LayerPlan, weightShapes: number[][]): TrainingGraph {
  const g = new GraphBuilder();
  const w = weightShapes.map((shape, k) => g.placeholder(`w${k}`, DT_FLOAT, shape));
  const x = g.placeholder("x", DT_FLOAT, [null, ...plan.inputShape]);
  const y = g.placeholder("y", DT_FLOAT);
  const seeds = Array.from({ length: plan.dropouts }, (_, k) => g.placeholder(`seed${k}`, DT_INT32, [2]));
  // Forward: each step's input and output (and Dropout's mask), kept for the backward pass.
  const saved: Saved[] = [];
  let h = x;
  // Under cross-entropy the last activation (softmax, sigmoid) is the loss's: that step outputs logits.
  const logits = plan.loss !== "mse";
  plan.steps.forEach((step, k) => {
    const out = forward(g, step, h, w, seeds, logits && k === plan.steps.length - 1);
    saved.push({ input: h, ...out });
    h = out.output;
  });
  const { loss, grad, correct } = lossOf(g, plan, h, y);
  // Backward, skipping the input gradient of every step before the first weighted one.
  const firstWeighted = plan.steps.findIndex((s) => s.kind === "conv2d" || s.kind === "dense" || s.kind === "batchNorm" || s.kind === "embedding");
  const grads: string[] = new Array(weightShapes.length);
  let dy = grad;
  for (let k = plan.steps.length - 1; k >= Math.max(firstWeighted, 0); k--) {
    dy = backward(g, plan.steps[k]!, saved[k]!, dy, w, grads, logits && k === plan.steps.length - 1, k > firstWeighted);
  }
  const missing = grads.findIndex((v) => v === undefined);
  if (missing >= 0 || grads.length !== weightShapes.length) throw new Error(`training graph: no gradient for trainable weight ${missing}`);
  const stats = saved.flatMap((v) => v.stats ?? []);
  const outputs = [g.identity(loss, "loss"), ...(correct ? [g.identity(correct, "correct")] : []), ...grads.map((d, k) => g.identity(d, `grad${k}`)), ...stats.map((t, k) => g.identity(t, `stat${k}`))];
  return { builder: g, inputs: [...w, x, y, ...seeds].map((n) => `${n}:0`), outputs: outputs.map((n) => `${n}:0`) };
}

function convAttrs(step: { depthwise: boolean; strides: [number, number]; padding: string }): Record<string, Attr> {
  const attrs: Record<string, Attr> = { strides: { list: [1, ...step.strides, 1] }, padding: { s: step.padding }, data_format: NHWC, dilations: { list: [1, 1, 1, 1] }, explicit_paddings: { list: [] } };
  return step.depthwise ? attrs : { ...attrs, use_cudnn_on_gpu: { b: true } };
}

/** The step's filter as the 4-D kernel the op takes (a Conv1D's viewed as one row). */
function filterOf(g: GraphBuilder, step: Extract<LayerStep, { kind: "conv2d" }>, w: string[]): string {
  return step.weightShape ? g.f("Reshape", [w[step.kernel]!, g.int32s(step.kernelShape)], { Tshape: I32 }) : w[step.kernel]!;
}

function poolAttrs(step: { size: [number, number]; strides: [number, number]; padding: string }): Record<string, Attr> {
  return { ksize: { list: [1, ...step.size, 1] }, strides: { list: [1, ...step.strides, 1] }, padding: { s: step.padding }, data_format: NHWC };
}

function activate(g: GraphBuilder, a: Activation, z: string): string {
  if (a === "relu") return g.f("Relu", [z]);
  if (a === "elu") return g.f("Elu", [z]);
  if (a === "selu") return g.f("Selu", [z]);
  if (a === "sigmoid") return g.f("Sigmoid", [z]);
  if (a === "tanh") return g.f("Tanh", [z]);
  // linear; softmax is only ever the last layer's, whose activation the loss applies.
  return z;
}

function activationGrad(g: GraphBuilder, a: Activation, dy: string, out: string): string {
  // ReluGrad gates on features > 0; the output is > 0 exactly where the input is.
  if (a === "relu") return g.f("ReluGrad", [dy, out]);
  // EluGrad and SeluGrad take the outputs: y + 1 (y + scale * alpha for selu) is the slope where y < 0.
  if (a === "elu") return g.f("EluGrad", [dy, out]);
  if (a === "selu") return g.f("SeluGrad", [dy, out]);
  if (a === "sigmoid") return g.f("SigmoidGrad", [out, dy]);
  if (a === "tanh") return g.f("TanhGrad", [out, dy]);
  return dy;
}

/** What a step keeps from the forward pass for its backward pass (and, for BatchNormalization, the batch statistics to fetch). */
interface Saved { input: string; output: string; mask?: string; ids?: string; norm?: { x: string; scale: string; fused: string }; stats?: [string, string] }

/** One step forward; `logits`: leave out the activation (the loss applies it). */
function forward(g: GraphBuilder, step: LayerStep, h: string, w: string[], seeds: string[], logits: boolean): Omit<Saved, "input"> {
  const act = (a: Activation, z: string) => activate(g, logits ? "linear" : a, z);
  switch (step.kind) {
    case "conv2d":
    case "dense": {
      let z = step.kind === "conv2d"
        ? g.f(step.depthwise ? "DepthwiseConv2dNative" : "Conv2D", [h, filterOf(g, step, w)], convAttrs(step))
        : g.f("MatMul", [h, w[step.kernel]!], { transpose_a: { b: false }, transpose_b: { b: false } });
      if (step.bias !== undefined) z = g.f("BiasAdd", [z, w[step.bias]!], { data_format: NHWC });
      return { output: act(step.activation, z) };
    }
    case "pool":
      return { output: g.f(step.op, [h], poolAttrs(step)) };
    case "flatten":
      return { output: g.f("Reshape", [h, g.int32s([-1, step.units])], { Tshape: I32 }) };
    case "reshape":
      return { output: g.f("Reshape", [h, g.int32s([-1, ...step.shape])], { Tshape: I32 }) };
    case "embedding": {
      // Ids arrive as floats; tfjs casts them to int32 too (truncating).
      const ids = g.op("Cast", [h], { SrcT: F, DstT: I32, Truncate: { b: false } });
      return { output: g.op("GatherV2", [w[step.weight]!, ids, g.int32(0)], { Tparams: F, Tindices: I32, Taxis: I32, batch_dims: { i: 0 } }), ids };
    }
    case "pad":
      return { output: g.f("Pad", [h, g.int32s([0, 0, ...step.pads[0], ...step.pads[1], 0, 0], [4, 2])], { Tpaddings: I32 }) };
    case "dropout": {
      if (step.rate <= 0) return { output: h };
      const uniform = g.op("StatelessRandomUniform", [g.shape(h), seeds[step.index]!], { dtype: F, T: I32, Tseed: I32 });
      const keep = g.op("Cast", [g.f("GreaterEqual", [uniform, g.float(step.rate)])], { SrcT: { type: DT_BOOL }, DstT: F, Truncate: { b: false } });
      const mask = g.f("Mul", [keep, g.float(1 / (1 - step.rate))]);
      return { output: g.f("Mul", [h, mask]), mask };
    }
    case "activation":
      return { output: act(step.activation, h) };
    case "batchNorm":
      return batchNormForward(g, step, h, w);
    case "leakyRelu":
      return { output: g.f("LeakyRelu", [h], { alpha: { f: step.alpha } }) };
    case "relu6":
      return { output: g.f("Relu6", [h]) };
  }
}

/**
 * Propagates dy through one step, writing its weights' gradients; returns the input's gradient
 * (unused when !needInput). `logits`: dy is already the gradient of the step's pre-activation.
 */
function backward(g: GraphBuilder, step: LayerStep, s: Saved, dy: string, w: string[], grads: string[], logits: boolean, needInput: boolean): string {
  const throughActivation = (a: Activation) => (logits ? dy : activationGrad(g, a, dy, s.output));
  switch (step.kind) {
    case "conv2d": {
      const dz = throughActivation(step.activation);
      if (step.bias !== undefined) grads[step.bias] = g.f("BiasAddGrad", [dz], { data_format: NHWC });
      const op = step.depthwise ? "DepthwiseConv2dNative" : "Conv2D";
      const filterGrad = g.f(`${op}BackpropFilter`, [s.input, g.int32s(step.kernelShape), dz], convAttrs(step));
      grads[step.kernel] = step.weightShape ? g.f("Reshape", [filterGrad, g.int32s(step.weightShape)], { Tshape: I32 }) : filterGrad;
      return needInput ? g.f(`${op}BackpropInput`, [g.shape(s.input), filterOf(g, step, w), dz], convAttrs(step)) : dz;
    }
    case "dense": {
      const dz = throughActivation(step.activation);
      if (step.bias !== undefined) grads[step.bias] = g.f("BiasAddGrad", [dz], { data_format: NHWC });
      grads[step.kernel] = g.f("MatMul", [s.input, dz], { transpose_a: { b: true }, transpose_b: { b: false } });
      return needInput ? g.f("MatMul", [dz, w[step.kernel]!], { transpose_a: { b: false }, transpose_b: { b: true } }) : dz;
    }
    case "pool":
      return step.op === "MaxPool"
        ? g.f("MaxPoolGrad", [s.input, s.output, dy], poolAttrs(step))
        : g.f("AvgPoolGrad", [g.shape(s.input), dy], poolAttrs(step));
    case "flatten":
    case "reshape":
      return g.f("Reshape", [dy, g.shape(s.input)], { Tshape: I32 });
    case "embedding":
      // Each looked-up row's gradient summed into its row of the table (repeated ids add up).
      grads[step.weight] = g.op("UnsortedSegmentSum", [g.f("Reshape", [dy, g.int32s([-1, step.dims])], { Tshape: I32 }), g.op("Reshape", [s.ids!, g.int32s([-1])], { T: I32, Tshape: I32 }), g.int32(step.vocabulary)], { T: F, Tindices: I32, Tnumsegments: I32 });
      return dy;
    case "pad":
      // The padded border gets no gradient: the input's window of dy.
      return g.f("Slice", [dy, g.int32s([0, step.pads[0][0], step.pads[1][0], 0]), g.shape(s.input)], { Index: I32 });
    case "dropout":
      return s.mask ? g.f("Mul", [dy, s.mask]) : dy;
    case "activation":
      return throughActivation(step.activation);
    case "batchNorm": {
      const { x, scale, fused } = s.norm!;
      const dy4 = step.rank === 2 ? g.f("Reshape", [dy, g.int32s([-1, 1, 1, step.channels])], { Tshape: I32 }) : dy;
      const grad = g.op("FusedBatchNormGradV3", [dy4, x, scale, `${fused}:3`, `${fused}:4`, `${fused}:5`], normAttrs(step));
      grads[step.gamma] = `${grad}:1`;
      grads[step.beta] = `${grad}:2`;
      return step.rank === 2 ? g.f("Reshape", [grad, g.int32s([-1, step.channels])], { Tshape: I32 }) : grad;
    }
    case "leakyRelu":
      return g.f("LeakyReluGrad", [dy, s.input], { alpha: { f: step.alpha } });
    case "relu6":
      return g.f("Relu6Grad", [dy, s.input]);
  }
}

type BatchNormStep = Extract<LayerStep, { kind: "batchNorm" }>;

function normAttrs(step: BatchNormStep): Record<string, Attr> {
  return { T: F, U: F, epsilon: { f: step.epsilon }, data_format: NHWC, is_training: { b: true } };
}

/**
 * BatchNormalization in training mode as TensorFlow's fused kernel (4-D NHWC; a 2-D input as
 * [batch, 1, 1, channels]), normalized with the batch's statistics. The moving statistics move
 * toward the batch mean and the biased variance, as tfjs' moments give them (the fused op's
 * variance output is Bessel-corrected), so those two are computed apart and fetched.
 */
function batchNormForward(g: GraphBuilder, step: BatchNormStep, h: string, w: string[]): Omit<Saved, "input"> {
  const c = step.channels;
  const x = step.rank === 2 ? g.f("Reshape", [h, g.int32s([-1, 1, 1, c])], { Tshape: I32 }) : h;
  const [scale, offset] = [w[step.gamma]!, w[step.beta]!];
  const empty = g.op("Const", [], { dtype: F, value: { tensor: { dtype: DT_FLOAT, shape: [0], float: [] } } });
  const fused = g.op("FusedBatchNormV3", [x, scale, offset, empty, empty], { ...normAttrs(step), exponential_avg_factor: { f: 1 } });
  const output = step.rank === 2 ? g.f("Reshape", [fused, g.int32s([-1, c])], { Tshape: I32 }) : fused;
  const axes = g.int32s([...Array(step.rank - 1).keys()]);
  const mean = g.op("Mean", [h, axes], { T: F, Tidx: I32, keep_dims: { b: false } });
  const variance = g.op("Mean", [g.f("SquaredDifference", [h, mean]), axes], { T: F, Tidx: I32, keep_dims: { b: false } });
  return { output, norm: { x, scale, fused }, stats: [mean, variance] };
}

/** The batch's mean loss, its gradient with respect to the last step's output (the logits under cross-entropy), and the correct count. */
function lossOf(g: GraphBuilder, plan: LayerPlan, out: string, y: string): { loss: string; grad: string; correct?: string } {
  const { loss, grad, target, labels } = plan.loss === "categorical" || plan.loss === "sparse" ? softmaxLoss(g, plan, out, y) : elementLoss(g, plan, out, y);
  return { loss, grad, correct: plan.accuracy ? correctCount(g, plan, out, target, labels) : undefined };
}

/** Categorical (one-hot y) or sparse (class ids in y) cross-entropy from the logits. */
function softmaxLoss(g: GraphBuilder, plan: LayerPlan, logits: string, y: string): { loss: string; grad: string; target: string; labels?: string } {
  const sparse = plan.loss === "sparse";
  const labels = sparse ? g.op("Cast", [g.f("Reshape", [y, g.int32s([-1])], { Tshape: I32 })], { SrcT: F, DstT: I32, Truncate: { b: false } }) : undefined;
  const xent = labels ? g.f("SparseSoftmaxCrossEntropyWithLogits", [logits, labels], { Tlabels: I32 }) : g.f("SoftmaxCrossEntropyWithLogits", [logits, y]);
  const n = g.sizeAsFloat(xent);
  return { loss: g.f("RealDiv", [g.sumAll(xent, 1), n]), grad: g.f("RealDiv", [`${xent}:1`, n]), target: y, labels };
}

/** Binary cross-entropy from the logits, or mean squared error: both averaged over every output unit. */
function elementLoss(g: GraphBuilder, plan: LayerPlan, out: string, y: string): { loss: string; grad: string; target: string; labels?: string } {
  // Targets take the output's shape (a [batch] column of values for a one-unit output).
  const target = g.f("Reshape", [y, g.shape(out)], { Tshape: I32 });
  const n = g.sizeAsFloat(out);
  if (plan.loss === "binary") {
    // Stably from the logits z: max(z, 0) - z * y + log(1 + exp(-|z|)); its gradient sigmoid(z) - y.
    const perUnit = g.f("AddV2", [g.f("Sub", [g.f("Relu", [out]), g.f("Mul", [out, target])]), g.f("Log1p", [g.f("Exp", [g.f("Neg", [g.f("Abs", [out])])])])]);
    return { loss: g.f("RealDiv", [g.sumAll(perUnit, plan.outputRank), n]), grad: g.f("RealDiv", [g.f("Sub", [g.f("Sigmoid", [out]), target]), n]), target };
  }
  const diff = g.f("Sub", [out, target]);
  return { loss: g.f("RealDiv", [g.sumAll(g.f("Square", [diff]), plan.outputRank), n]), grad: g.f("RealDiv", [g.f("Mul", [diff, g.float(2)]), n]), target };
}

/**
 * The batch's correct predictions under tfjs-layers' "accuracy": binary accuracy (p > 0.5, the
 * fraction of a sample's units) for one output unit or binary cross-entropy, sparse categorical
 * for class ids, categorical (argmax) otherwise.
 */
function correctCount(g: GraphBuilder, plan: LayerPlan, out: string, target: string, labels: string | undefined): string {
  const toFloat = (t: string) => g.op("Cast", [t], { SrcT: { type: DT_BOOL }, DstT: F, Truncate: { b: false } });
  const argMax = (t: string) => g.op("ArgMax", [t, g.int32(-1)], { T: F, Tidx: I32, output_type: I32 });
  if (plan.units === 1 || plan.loss === "binary") {
    // Under binary cross-entropy `out` holds logits: p > 0.5 is z > 0.
    const predicted = toFloat(g.f("Greater", [out, g.float(plan.loss === "binary" ? 0 : 0.5)]));
    const hits = toFloat(g.f("Equal", [predicted, target], { incompatible_shape_error: { b: true } }));
    return g.f("RealDiv", [g.sumAll(g.f("Reshape", [hits, g.int32s([-1])], { Tshape: I32 }), 1), g.float(plan.units)]);
  }
  const hits = g.op("Equal", [argMax(out), labels ?? argMax(target)], { T: I32, incompatible_shape_error: { b: true } });
  return g.sumAll(toFloat(hits), 1);
}
