/**
 * Keras' GRU with `reset_after=True` (the default since tf.keras 2.0 and in Keras 3, and what
 * cuDNN computes). tfjs-layers' GRUCell only has the original formulation and refuses
 * reset_after. The difference: the reset gate multiplies the recurrent candidate after the
 * matrix product, and the bias has two rows (input bias, recurrent bias):
 *   [xz, xr, xh] = x K + b_in;  [rz, rr, rh] = h R + b_rec
 *   z = σ(xz + rz);  r = σ(xr + rr);  hh = tanh(xh + r * rh);  h' = z h + (1 - z) hh
 * KerasGRU is tfjs' GRU with this cell; it is registered for configs whose GRU has reset_after.
 */
import { tf, tfl } from "../tfjs.js";

type Kwargs = Record<string, unknown>;
type Args = Record<string, unknown> & { units: number; useBias?: boolean };
interface CellLike {
  units: number;
  useBias: boolean;
  kernel: tfl.LayerVariable;
  recurrentKernel: tfl.LayerVariable;
  bias: tfl.LayerVariable | null;
  kernelInitializer: unknown; recurrentInitializer: unknown; biasInitializer: unknown;
  kernelRegularizer: unknown; recurrentRegularizer: unknown; biasRegularizer: unknown;
  kernelConstraint: unknown; recurrentConstraint: unknown; biasConstraint: unknown;
  dropout: number; recurrentDropout: number;
  dropoutMask: tf.Tensor | tf.Tensor[] | null; recurrentDropoutMask: tf.Tensor | tf.Tensor[] | null;
  activation: { apply(x: tf.Tensor): tf.Tensor };
  recurrentActivation: { apply(x: tf.Tensor): tf.Tensor };
  built: boolean;
  addWeight(name: string, shape: number[], dtype: null, ...rest: unknown[]): tfl.LayerVariable;
  getConfig(): tf.serialization.ConfigDict;
}
type Ctor<T> = new (args: Args) => T;

const classNamed = <T>(name: string) => tf.serialization.SerializationMap.getMap().classNameMap[name][0] as unknown as Ctor<T>;
const GRUCell = classNamed<CellLike & tfl.layers.Layer>("GRUCell");
const GRU = classNamed<tfl.layers.Layer & { cell: CellLike }>("GRU");

export class KerasGRUCell extends GRUCell {
  static readonly className = "KerasGRUCell";

  constructor(args: Args) {
    super({ ...args, resetAfter: false });
  }

  override build(inputShape: tfl.Shape | tfl.Shape[]): void {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tfl.Shape;
    const inputDim = shape[shape.length - 1] as number;
    this.kernel = this.addWeight("kernel", [inputDim, this.units * 3], null, this.kernelInitializer, this.kernelRegularizer, true, this.kernelConstraint);
    this.recurrentKernel = this.addWeight("recurrent_kernel", [this.units, this.units * 3], null, this.recurrentInitializer, this.recurrentRegularizer, true, this.recurrentConstraint);
    this.bias = this.useBias ? this.addWeight("bias", [2, this.units * 3], null, this.biasInitializer, this.biasRegularizer, true, this.biasConstraint) : null;
    this.built = true;
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor[] {
    return tf.tidy(() => {
      let [x, hPrev] = inputs as tf.Tensor[];
      if (kwargs.training === true) {
        // One mask per sequence for the inputs and one for the state in the recurrent product
        // (Keras' implementation=1; its default implementation=2 skips recurrent_dropout), drawn
        // at the first step and kept: tfjs' GRU.call disposes them before the next sequence.
        if (this.dropout > 0 && this.dropout < 1) {
          this.dropoutMask ??= tf.keep(tf.dropout(tf.onesLike(x), this.dropout));
          x = tf.mul(x, this.dropoutMask as tf.Tensor);
        }
        if (this.recurrentDropout > 0 && this.recurrentDropout < 1) {
          this.recurrentDropoutMask ??= tf.keep(tf.dropout(tf.onesLike(hPrev), this.recurrentDropout));
          hPrev = tf.mul(hPrev, this.recurrentDropoutMask as tf.Tensor);
        }
      }
      const hState = (inputs as tf.Tensor[])[1];
      let matrixX = tf.matMul(x as tf.Tensor2D, this.kernel.read() as tf.Tensor2D);
      let matrixInner = tf.matMul(hPrev as tf.Tensor2D, this.recurrentKernel.read() as tf.Tensor2D);
      if (this.bias) {
        const [inBias, recBias] = tf.unstack(this.bias.read());
        matrixX = tf.add(matrixX, inBias);
        matrixInner = tf.add(matrixInner, recBias);
      }
      const [xz, xr, xh] = tf.split(matrixX, 3, -1);
      const [rz, rr, rh] = tf.split(matrixInner, 3, -1);
      const z = this.recurrentActivation.apply(tf.add(xz, rz));
      const r = this.recurrentActivation.apply(tf.add(xr, rr));
      const hh = this.activation.apply(tf.add(xh, tf.mul(r, rh)));
      // The carried state is the undropped one, as in Keras.
      const h = tf.add(tf.mul(z, hState), tf.mul(tf.sub(1, z), hh));
      return [h, h];
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), resetAfter: true };
  }
}

export class KerasGRU extends GRU {
  static readonly className = "KerasGRU";

  constructor(args: Args) {
    super({ ...args, resetAfter: false });
    // tfjs' GRU makes its own GRUCell; swap in the reset_after cell before anything is built.
    this.cell = new KerasGRUCell(args);
  }

  static fromConfig<T extends tf.serialization.Serializable>(cls: tf.serialization.SerializableConstructor<T>, config: tf.serialization.ConfigDict): T {
    return new cls(config);
  }
}

tf.serialization.registerClass(KerasGRUCell as unknown as tf.serialization.SerializableConstructor<tf.serialization.Serializable>);
tf.serialization.registerClass(KerasGRU as unknown as tf.serialization.SerializableConstructor<tf.serialization.Serializable>);
