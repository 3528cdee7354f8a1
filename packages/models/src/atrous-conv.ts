/**
 * Trainable dilated Conv2D. tfjs 4.22 convolves with dilations > 1 but has no gradient for it
 * ("dilation rates greater than 1 are not yet supported in gradients"), so a model with a
 * dilated conv (PyTorch `dilation`, Keras `dilation_rate`, ONNX `dilations`) would load and
 * predict but not train. This Conv2D computes a dilated convolution the way TensorFlow's
 * atrous convolution does: spaceToBatchND (the dilated grid becomes `rate` dense sub-images,
 * padded as 'same'/'valid' asks and up to a multiple of the rate) -> conv2d with dilation 1,
 * 'valid' -> batchToSpaceND (interleave back, crop the extra padding). All three ops have
 * gradients in tfjs; the numbers are the dilated convolution's (same products and sums).
 *
 * It replaces tfjs' Conv2D in the serialization registry under the same class name "Conv2D", so
 * Keras/TF.js configs (and model.json files, which stay plain Conv2D for any other reader) build
 * it; without dilation it is tfjs' Conv2D unchanged. The PyTorch and ONNX importers construct it
 * for their dilated convolutions.
 */
import { tf, tfl } from "./tfjs.js";

type ConvArgs = Parameters<typeof tfl.layers.conv2d>[0];
type Layer = InstanceType<typeof tfl.layers.Layer>;
type Kwargs = Parameters<Layer["call"]>[1];
/** The tfjs Conv2D fields this class reads (tfjs-layers declares them protected). */
interface ConvFields {
  kernel: { read(): tf.Tensor };
  bias: { read(): tf.Tensor } | null;
  strides: number[];
  padding: "same" | "valid" | "causal";
  dataFormat: "channelsFirst" | "channelsLast";
  dilationRate: number | number[];
  activation: { apply(x: tf.Tensor): tf.Tensor } | null;
}

const registry = tf.serialization.SerializationMap.getMap().classNameMap;
/** tfjs' own Conv2D (tfjs-layers exports only its factory); kept aside on a second load of this module. */
const TfjsConv2D = ((registry.Conv2D?.[0] as { tfjsConv2D?: unknown } | undefined)?.tfjsConv2D ?? registry.Conv2D![0]) as unknown as new (args: ConvArgs) => Layer;

/** The [rh, rw] rates of a layer's dilationRate. */
export function dilationPair(rate: number | number[] | undefined): [number, number] {
  if (rate === undefined) return [1, 1];
  return typeof rate === "number" ? [rate, rate] : rate.length === 1 ? [rate[0]!, rate[0]!] : [rate[0]!, rate[1]!];
}

/**
 * NHWC dilated convolution with stride 1 through spaceToBatchND / batchToSpaceND. `padding`
 * 'same' pads (k-1)*rate in total, the smaller half first (TensorFlow's rule).
 */
export function atrousConv2d(x: tf.Tensor4D, kernel: tf.Tensor4D, rates: [number, number], padding: "same" | "valid"): tf.Tensor4D {
  return tf.tidy(() => {
    const [kh, kw] = kernel.shape;
    const base = [[kh, rates[0]], [kw, rates[1]]].map(([k, r]) => {
      const total = padding === "same" ? (k! - 1) * r! : 0;
      return [Math.floor(total / 2), total - Math.floor(total / 2)];
    });
    // Pad the end further so that each padded size is a multiple of its rate; crop that off afterwards.
    const extra = [x.shape[1], x.shape[2]].map((n, i) => (rates[i]! - ((n + base[i]![0]! + base[i]![1]!) % rates[i]!)) % rates[i]!);
    const paddings = base.map(([a, b], i) => [a!, b! + extra[i]!]);
    const blocks = tf.spaceToBatchND(x, rates, paddings) as tf.Tensor4D;
    const y = tf.conv2d(blocks, kernel, 1, "valid");
    return tf.batchToSpaceND(y, rates, [[0, extra[0]!], [0, extra[1]!]]) as tf.Tensor4D;
  });
}

export class Conv2D extends TfjsConv2D {
  static readonly className = "Conv2D";
  static readonly tfjsConv2D = TfjsConv2D;

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor | tf.Tensor[] {
    const self = this as unknown as ConvFields;
    const rates = dilationPair(self.dilationRate);
    // tfjs' own path where it trains (no dilation) or cannot compute anyway (dilation with strides, causal).
    if ((rates[0] === 1 && rates[1] === 1) || self.strides.some((s) => s !== 1) || self.padding === "causal") return super.call(inputs, kwargs);
    return tf.tidy(() => {
      let x = (Array.isArray(inputs) ? inputs[0]! : inputs) as tf.Tensor4D;
      if (self.dataFormat === "channelsFirst") x = tf.transpose(x, [0, 2, 3, 1]);
      let y: tf.Tensor = atrousConv2d(x, self.kernel.read() as tf.Tensor4D, rates, self.padding as "same" | "valid");
      if (self.bias) y = tf.add(y, self.bias.read());
      if (self.activation) y = self.activation.apply(y);
      return self.dataFormat === "channelsFirst" ? tf.transpose(y, [0, 3, 1, 2]) : y;
    });
  }
}

// Same class name as tfjs' Conv2D: configs naming "Conv2D" now build this one.
tf.serialization.SerializationMap.register(Conv2D as unknown as tf.serialization.SerializableConstructor<tf.serialization.Serializable>);

/** A Conv2D layer that trains with any dilation rate (use instead of `tfl.layers.conv2d`). */
export function conv2d(args: ConvArgs): Layer {
  return new Conv2D(args);
}
