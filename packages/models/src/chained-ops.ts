/**
 * Installs tfjs' chained tensor methods (`x.div(255)`, `x.toFloat()`, ...) on the Tensor class.
 *
 * The `@tensorflow/tfjs` umbrella package installs them, but Cohort uses tfjs-core directly and
 * its CommonJS build (the one Node loads) leaves them out; the only shipped installer is an ES
 * module tree that would load a second tfjs-core. User model modules written against
 * `@tensorflow/tfjs` use these methods, so we install them against our single instance.
 */
import type {} from "@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops.js";
import * as tf from "@tensorflow/tfjs-core";

/** Methods that are `op(this, ...args)` for the tf op of the same name. */
const SAME_NAME = [
  "abs", "acos", "acosh", "add", "all", "any", "argMax", "argMin", "asin", "asinh", "atan", "atan2", "atanh",
  "avgPool", "batchNorm", "batchToSpaceND", "broadcastTo", "cast", "ceil", "clipByValue", "conv1d", "conv2d",
  "conv2dTranspose", "cos", "cosh", "cumprod", "cumsum", "depthToSpace", "depthwiseConv2d", "dilation2d", "div",
  "divNoNan", "dot", "elu", "equal", "erf", "euclideanNorm", "exp", "expandDims", "expm1", "fft", "floor", "floorDiv",
  "gather", "greater", "greaterEqual", "ifft", "irfft", "isFinite", "isInf", "isNaN", "leakyRelu", "less", "lessEqual",
  "localResponseNormalization", "log", "log1p", "logicalAnd", "logicalNot", "logicalOr", "logicalXor", "logSigmoid",
  "logSoftmax", "logSumExp", "matMul", "max", "maximum", "maxPool", "mean", "min", "minimum", "mirrorPad", "mod", "mul",
  "neg", "norm", "notEqual", "oneHot", "onesLike", "pad", "pool", "pow", "prelu", "prod", "reciprocal", "relu", "relu6",
  "reshape", "resizeBilinear", "resizeNearestNeighbor", "reverse", "rfft", "round", "rsqrt", "selu", "separableConv2d",
  "sigmoid", "sign", "sin", "sinh", "slice", "softmax", "softplus", "spaceToBatchND", "split", "sqrt", "square",
  "squaredDifference", "squeeze", "step", "stridedSlice", "sub", "sum", "tan", "tanh", "tile", "topk", "transpose",
  "unique", "unsortedSegmentSum", "unstack", "zerosLike",
] as const;

type Method = (this: tf.Tensor, ...args: never[]) => unknown;

const SPECIAL: Record<string, Method> = {
  as1D(this: tf.Tensor) { return tf.reshape(this, [this.size]); },
  as2D(this: tf.Tensor, ...s: number[]) { return tf.reshape(this, s.slice(0, 2)); },
  as3D(this: tf.Tensor, ...s: number[]) { return tf.reshape(this, s.slice(0, 3)); },
  as4D(this: tf.Tensor, ...s: number[]) { return tf.reshape(this, s.slice(0, 4)); },
  as5D(this: tf.Tensor, ...s: number[]) { return tf.reshape(this, s.slice(0, 5)); },
  asScalar(this: tf.Tensor) {
    if (this.size !== 1) throw new Error("The array must have only 1 element.");
    return tf.reshape(this, []);
  },
  flatten(this: tf.Tensor) { return tf.reshape(this, [this.size]); },
  reshapeAs(this: tf.Tensor, x: tf.Tensor) { return tf.reshape(this, x.shape); },
  asType(this: tf.Tensor, dtype: tf.DataType) { return tf.cast(this, dtype); },
  toFloat(this: tf.Tensor) { return tf.cast(this, "float32"); },
  toInt(this: tf.Tensor) { return tf.cast(this, "int32"); },
  toBool(this: tf.Tensor) { return tf.cast(this, "bool"); },
  concat(this: tf.Tensor, x: tf.Tensor | tf.Tensor[], axis?: number) {
    return tf.concat([this, ...(x instanceof tf.Tensor ? [x] : x)], axis);
  },
  stack(this: tf.Tensor, x: tf.Tensor | tf.Tensor[], axis?: number) {
    return tf.stack([this, ...(x instanceof tf.Tensor ? [x] : x)], axis);
  },
  where(this: tf.Tensor, condition: tf.Tensor, x: tf.Tensor) { return tf.where(condition, this, x); },
};

let installed = false;

/** Adds the methods that are missing; never replaces one that exists. Idempotent. */
export function installChainedOps(): void {
  if (installed) return;
  installed = true;
  const proto = tf.Tensor.prototype as unknown as Record<string, unknown>;
  const ops = tf as unknown as Record<string, (...args: unknown[]) => unknown>;
  const define = (name: string, fn: Method) => {
    if (typeof proto[name] !== "function") {
      Object.defineProperty(proto, name, { value: fn, writable: true, configurable: true, enumerable: false });
    }
  };
  for (const name of SAME_NAME) {
    const op = ops[name];
    if (typeof op !== "function") continue;
    define(name, function (this: tf.Tensor, ...args: unknown[]) {
      this.throwIfDisposed();
      return op(this, ...args);
    } as Method);
  }
  for (const [name, fn] of Object.entries(SPECIAL)) {
    define(name, function (this: tf.Tensor, ...args: never[]) {
      this.throwIfDisposed();
      return fn.apply(this, args);
    } as Method);
  }
}
