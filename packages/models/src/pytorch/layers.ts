/**
 * Weightless layers that PyTorch / ONNX models need and tfjs-layers lacks, registered with tfjs
 * serialization so a converted model saves and reloads as TF.js layers:
 * - LogSoftmax (nn.LogSoftmax, ONNX LogSoftmax): tfjs has the op but no layer or activation.
 * - Clip (ONNX Clip with bounds other than relu/relu6).
 * - TorchELU (nn.ELU with alpha != 1: tfjs' ELU layer only implements alpha = 1).
 */
import { tf, tfl } from "../tfjs.js";

type LayerArgs = ConstructorParameters<typeof tfl.layers.Layer>[0];
const one = (inputs: tf.Tensor | tf.Tensor[]): tf.Tensor => (Array.isArray(inputs) ? inputs[0]! : inputs);

export class LogSoftmax extends tfl.layers.Layer {
  static readonly className = "LogSoftmax";
  readonly axis: number;
  constructor(args: LayerArgs & { axis?: number }) {
    super(args);
    this.axis = args.axis ?? -1;
  }
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const x = one(inputs);
    // tf.logSoftmax only takes the last axis; move the axis there and back when needed.
    const axis = this.axis < 0 ? x.rank + this.axis : this.axis;
    if (axis === x.rank - 1) return tf.logSoftmax(x);
    const perm = [...Array(x.rank).keys()];
    [perm[axis], perm[x.rank - 1]] = [perm[x.rank - 1]!, perm[axis]!];
    return tf.tidy(() => tf.transpose(tf.logSoftmax(tf.transpose(x, perm)), perm));
  }
  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), axis: this.axis };
  }
}

export class Clip extends tfl.layers.Layer {
  static readonly className = "Clip";
  readonly min: number;
  readonly max: number;
  constructor(args: LayerArgs & { min?: number; max?: number }) {
    super(args);
    this.min = args.min ?? -3.4028234663852886e38;
    this.max = args.max ?? 3.4028234663852886e38;
  }
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.clipByValue(one(inputs), this.min, this.max);
  }
  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), min: this.min, max: this.max };
  }
}

export class TorchELU extends tfl.layers.Layer {
  static readonly className = "TorchELU";
  readonly alpha: number;
  constructor(args: LayerArgs & { alpha?: number }) {
    super(args);
    this.alpha = args.alpha ?? 1;
  }
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const x = one(inputs);
    // relu(x) + alpha*expm1(min(x,0)): the same values as torch, built from ops that have gradients.
    return tf.tidy(() => tf.add(tf.relu(x), tf.mul(this.alpha, tf.expm1(tf.minimum(x, 0)))));
  }
  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), alpha: this.alpha };
  }
}

tf.serialization.registerClass(LogSoftmax);
tf.serialization.registerClass(Clip);
tf.serialization.registerClass(TorchELU);
