/**
 * Keras `training_config` (h5 attribute, SavedModel metadata) and Keras 3 `compile_config` to
 * Cohort's CompileOptions, so a saved model trains with the optimizer, learning rate, loss and
 * metrics it was compiled with. Loss and metric objects are reduced to their Keras names.
 */
import type { CompileOptions } from "../compile.js";

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

/** CamelCase class names ("CategoricalCrossentropy") to Keras function names. */
const snake = (s: string) => s.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toLowerCase();

function nameOf(v: unknown): string | undefined {
  if (typeof v === "string") return v;
  if (!isObj(v)) return undefined;
  if (v.class_name === "function" && typeof v.config === "string") return v.config; // Keras 3 plain functions
  if (isObj(v.config)) {
    if (typeof v.config.fn === "string") return v.config.fn; // MeanMetricWrapper
    if (typeof v.config.name === "string") return v.config.name;
  }
  return typeof v.class_name === "string" ? snake(v.class_name) : undefined;
}

function flatMetrics(v: unknown): string[] {
  if (v === null || v === undefined) return [];
  if (Array.isArray(v)) return v.flatMap(flatMetrics);
  if (isObj(v) && !("class_name" in v)) return Object.values(v).flatMap(flatMetrics); // per-output dict
  const n = nameOf(v);
  return n ? [n.replace(/^categorical_accuracy$|^sparse_categorical_accuracy$|^binary_accuracy$/, "accuracy")] : [];
}

/** undefined when the file holds no usable training configuration. */
export function compileOptionsFromKeras(training: unknown): CompileOptions | undefined {
  if (!isObj(training)) return undefined;
  const opt = isObj(training.optimizer_config) ? training.optimizer_config : isObj(training.optimizer) ? training.optimizer : undefined;
  const lossValue = Array.isArray(training.loss) ? training.loss[0] : isObj(training.loss) && !("class_name" in training.loss) ? Object.values(training.loss)[0] : training.loss;
  const loss = nameOf(lossValue);
  const lossConfig = isObj(lossValue) && isObj(lossValue.config) ? lossValue.config : undefined;
  if (!opt || !loss) return undefined;
  const optName = String(opt.class_name ?? "").replace(/^Custom>/, "");
  const cfg = isObj(opt.config) ? opt.config : {};
  const lrValue = cfg.learning_rate ?? cfg.lr;
  const lr = typeof lrValue === "number" ? lrValue : undefined;
  return { optimizer: optName, loss, metrics: flatMetrics(training.metrics), optimizerConfig: cfg, ...(lossConfig ? { lossConfig } : {}), ...(lr !== undefined ? { lr } : {}) };
}
