/**
 * What a data handler gives a party: its local examples as plain typed arrays, so this package
 * needs no training library. `x` is row-major with one example per leading index.
 */
export interface Split {
  x: Float32Array;
  /** xShape[0] is the number of examples; the rest is the per-example shape the model takes. */
  xShape: number[];
  /** Int32Array: class ids (shape [n]); Float32Array: one-hot rows ([n, classes]) or regression targets. */
  y: Float32Array | Int32Array;
  /** yShape[0] === xShape[0]. */
  yShape: number[];
}

export interface Dataset {
  train: Split;
  test: Split;
  /** One line for logs: where the data came from and how much of it there is. */
  description: string;
  /** Known for classification data: class ids lie in [0, numClasses). */
  numClasses?: number;
  /** Names of classes 0..k-1 when the source labelled them by name (a CSV's text label column). */
  classNames?: string[];
}

export interface DataContext {
  /** Directory relative paths in `info` resolve against (the config file's directory). */
  baseDir: string;
}

export interface DataHandler {
  name: string;
  load(info: Record<string, unknown>, ctx: DataContext): Promise<Dataset>;
}

export function exampleCount(split: Split): number {
  return split.xShape[0];
}
