/**
 * Layers that Keras models use and tfjs-layers lacks or implements differently, registered
 * with tfjs serialization so that converted configs deserialise:
 * - KerasInferenceIdentity stands in for Keras' random augmentation layers (RandomFlip,
 *   RandomRotation, ...), which are the identity at inference (`model.predict`, serving) and
 *   which federated training of the rest of the model does not need either. The original class
 *   and config travel along so that an export can write them back.
 * - KerasResizing follows Keras 2.8+ `Resizing`: optional centre crop to the target aspect
 *   ratio (`smart_resize`), then TF's half-pixel-centre resize. tfjs' own Resizing ignores
 *   crop_to_aspect_ratio and uses align-corners sampling, which gives different numbers.
 */
import { tf, tfl } from "../tfjs.js";

type Kwargs = Record<string, unknown>;
type LayerArgs = ConstructorParameters<typeof tfl.layers.Layer>[0];

const one = (inputs: tf.Tensor | tf.Tensor[]): tf.Tensor => (Array.isArray(inputs) ? inputs[0] : inputs);

export class KerasInferenceIdentity extends tfl.layers.Layer {
  static readonly className = "KerasInferenceIdentity";
  readonly kerasClass: string;
  /** The Keras layer config as base64 JSON (tfjs camel-cases plain strings inside configs). */
  readonly kerasConfig: string;

  constructor(args: LayerArgs & { kerasClass?: string; kerasConfig?: string }) {
    super(args);
    this.kerasClass = args.kerasClass ?? "Identity";
    this.kerasConfig = args.kerasConfig ?? "";
  }

  override call(inputs: tf.Tensor | tf.Tensor[], _kwargs: Kwargs): tf.Tensor {
    // A clone, not the input itself: the executor disposes intermediate tensors by identity.
    return tf.clone(one(inputs));
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), kerasClass: this.kerasClass, kerasConfig: this.kerasConfig };
  }
}

export class KerasResizing extends tfl.layers.Layer {
  static readonly className = "KerasResizing";
  readonly height: number;
  readonly width: number;
  readonly interpolation: string;
  readonly cropToAspectRatio: boolean;

  constructor(args: LayerArgs & { height: number; width: number; interpolation?: string; cropToAspectRatio?: boolean }) {
    super(args);
    this.height = args.height;
    this.width = args.width;
    this.interpolation = args.interpolation ?? "bilinear";
    this.cropToAspectRatio = Boolean(args.cropToAspectRatio);
    if (this.interpolation !== "bilinear" && this.interpolation !== "nearest") {
      throw new Error(`Resizing layer "${this.name}": interpolation "${this.interpolation}" is not supported (bilinear, nearest)`);
    }
  }

  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape {
    const s = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tfl.Shape;
    return [s[0], this.height, this.width, s[3]];
  }

  override call(inputs: tf.Tensor | tf.Tensor[], _kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => {
      let x = one(inputs) as tf.Tensor4D;
      const [, H, W] = x.shape;
      if (this.cropToAspectRatio) {
        // keras.preprocessing.image.smart_resize, in float32 as Keras computes it.
        const f = Math.fround;
        const ch = Math.min(H, Math.trunc(f(f(W * this.height) / f(this.width))));
        const cw = Math.min(W, Math.trunc(f(f(H * this.width) / f(this.height))));
        const top = Math.trunc(f(H - ch) / 2);
        const left = Math.trunc(f(W - cw) / 2);
        if (ch !== H || cw !== W) x = tf.slice(x, [0, top, left, 0], [-1, ch, cw, -1]);
      }
      if (x.shape[1] === this.height && x.shape[2] === this.width) return tf.clone(x);
      const size: [number, number] = [this.height, this.width];
      return this.interpolation === "nearest" ? tf.image.resizeNearestNeighbor(x, size, false, true) : tf.image.resizeBilinear(x, size, false, true);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), height: this.height, width: this.width, interpolation: this.interpolation, cropToAspectRatio: this.cropToAspectRatio };
  }
}

tf.serialization.registerClass(KerasInferenceIdentity);
tf.serialization.registerClass(KerasResizing);
