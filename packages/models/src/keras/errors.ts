/** Errors of the Keras / TensorFlow loaders: always name the file (and, where known, the layer or key). */
export class KerasModelError extends Error {
  readonly code = "KERAS_MODEL_INVALID";
  constructor(readonly file: string, problem: string) {
    super(`${file}: ${problem}`);
    this.name = "KerasModelError";
  }
}
