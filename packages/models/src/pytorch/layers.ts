/**
 * Weightless layers that PyTorch / ONNX models need and tfjs-layers lacks, registered with tfjs
 * serialization so a converted model saves and reloads as TF.js layers:
 * - LogSoftmax (nn.LogSoftmax, ONNX LogSoftmax): tfjs has the op but no layer or activation.
 * - Clip (ONNX Clip with bounds other than relu/relu6).
 * - TorchELU (nn.ELU with alpha != 1: tfjs' ELU layer only implements alpha = 1).
 * - TorchGeluTanh (nn.GELU(approximate="tanh")): tfjs' "gelu_new" activation computes it, but a
 *   model using it does not survive toJSON -> modelFromJSON (the name comes back as "geluNew").
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

export class TorchGeluTanh extends tfl.layers.Layer {
  static readonly className = "TorchGeluTanh";
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const x = one(inputs);
    // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), as torch's tanh approximation.
    return tf.tidy(() => tf.mul(tf.mul(0.5, x), tf.add(1, tf.tanh(tf.mul(Math.sqrt(2 / Math.PI), tf.add(x, tf.mul(0.044715, tf.pow(x, 3))))))));
  }
}

tf.serialization.registerClass(LogSoftmax);
tf.serialization.registerClass(TorchGeluTanh);
tf.serialization.registerClass(Clip);
tf.serialization.registerClass(TorchELU);
