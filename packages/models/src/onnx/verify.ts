/**
 * Checks an exported .onnx file against the TF.js model it came from: both predict a small
 * seeded random batch, and the largest difference, relative to the largest output, must stay
 * within `tolerance` (the measure the fixtures use: max|onnx - tfjs| / max|tfjs|).
 */
import { tf, type LayersModel } from "../tfjs.js";
import { OnnxRuntimeModel } from "./ort.js";

export interface OnnxCheck { maxRelError: number; batch: number; inputShape: number[] }

/** A deterministic batch in [0, 1): the same check gives the same numbers on every run. */
function randomBatch(shape: number[], seed: number): Float32Array {
  const out = new Float32Array(shape.reduce((a, b) => a * b, 1));
  let s = seed >>> 0;
  for (let i = 0; i < out.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 32;
  }
  return out;
}

/** Runs `file` in onnxruntime-node and `model` in TF.js on the same batch; `unknownSize` fills unknown non-batch dims. */
export async function compareOnnxWithTfjs(model: LayersModel, file: string, options: { batch?: number; seed?: number; unknownSize?: number } = {}): Promise<OnnxCheck> {
  const batch = options.batch ?? 4;
  const dims = (model.inputs[0]!.shape as (number | null)[]).slice(1).map((d) => d ?? options.unknownSize ?? 16);
  const inputShape = [batch, ...dims];
  const data = randomBatch(inputShape, options.seed ?? 7);
  const session = await OnnxRuntimeModel.load(file);
  try {
    const onnx = await session.predict({ shape: inputShape, data });
    const maxRelError = tf.tidy(() => {
      const expected = model.predict(tf.tensor(data, inputShape)) as tf.Tensor;
      if (expected.shape.join(",") !== onnx.shape.join(",")) throw new Error(`${file}: ONNX output shape [${onnx.shape}] differs from TF.js [${expected.shape}]`);
      const diff = tf.max(tf.abs(tf.sub(tf.tensor(onnx.data, onnx.shape), expected))).dataSync()[0]!;
      const scale = tf.max(tf.abs(expected)).dataSync()[0]!;
      return scale === 0 ? diff : diff / scale;
    });
    return { maxRelError, batch, inputShape };
  } finally {
    await session.release();
  }
}
