import { type Split } from "./dataset.js";
import { DataError } from "./errors.js";

/** Checks a party runs before joining, so a bad data/model pairing fails at start, not mid-round. */

const shapeText = (shape: readonly (number | null)[]) => `[${shape.map((d) => (d === null ? "null" : d)).join(", ")}]`;

/** The split is internally consistent: sizes agree with shapes and x and y count the same examples. */
export function checkSplit(split: Split, where: string): void {
  const count = (shape: number[]) => shape.reduce((a, b) => a * b, 1);
  if (split.x.length !== count(split.xShape)) {
    throw new DataError("data.shape_mismatch", `${where}: x holds ${split.x.length} values but its shape ${shapeText(split.xShape)} needs ${count(split.xShape)}`);
  }
  if (split.y.length !== count(split.yShape)) {
    throw new DataError("data.shape_mismatch", `${where}: y holds ${split.y.length} values but its shape ${shapeText(split.yShape)} needs ${count(split.yShape)}`);
  }
  if (split.xShape[0] !== split.yShape[0]) {
    throw new DataError("data.length_mismatch", `${where}: x has ${split.xShape[0]} examples but y has ${split.yShape[0]}`);
  }
}

/**
 * Class labels lie in [0, numClasses): class ids each in range, or one-hot rows exactly
 * numClasses wide. Regression targets (float, one per example) are not class labels: refused.
 */
export function validateLabels(split: Split, numClasses: number, where: string): void {
  if (split.y instanceof Float32Array) {
    if (split.yShape.length === 2) {
      if (split.yShape[1] !== numClasses) {
        throw new DataError("data.label_out_of_range", `${where}: one-hot labels have ${split.yShape[1]} columns but the model has ${numClasses} classes`);
      }
      return;
    }
    for (let i = 0; i < split.y.length; i++) {
      const value = split.y[i];
      if (!Number.isInteger(value) || value < 0 || value >= numClasses) {
        throw new DataError("data.label_out_of_range", `${where}: label ${value} at index ${i} is not a class id in [0, ${numClasses})`);
      }
    }
    return;
  }
  for (let i = 0; i < split.y.length; i++) {
    const value = split.y[i];
    if (value < 0 || value >= numClasses) {
      throw new DataError("data.label_out_of_range", `${where}: label ${value} at index ${i} is outside [0, ${numClasses}) for a model with ${numClasses} classes`);
    }
  }
}

/**
 * x's per-example shape matches the model input. `modelInputShape` may include the batch
 * dimension (as tf.LayersModel.inputs[0].shape does: [null, 28, 28, 1]) or not ([28, 28, 1]);
 * null dimensions match anything.
 */
export function checkInputShape(split: Split, modelInputShape: readonly (number | null)[], where: string): void {
  const perExample = split.xShape.slice(1);
  const wanted = modelInputShape.length === split.xShape.length ? modelInputShape.slice(1) : modelInputShape;
  const matches = wanted.length === perExample.length && wanted.every((d, i) => d === null || d === perExample[i]);
  if (!matches) {
    throw new DataError("data.shape_mismatch",
      `${where}: examples have shape ${shapeText(perExample)} (x is ${shapeText(split.xShape)}) but the model takes ${shapeText(modelInputShape)}`);
  }
}
