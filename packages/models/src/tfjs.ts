/**
 * The one place in Cohort that imports TensorFlow.js. Everything else (other packages, user
 * model modules) goes through these namespaces, so the process holds exactly one
 * `@tensorflow/tfjs-core` instance: layers, backends and our custom kernels then share one
 * engine, one kernel registry and one `Tensor` class (`instanceof` checks inside tfjs-layers
 * fail silently with two copies).
 */
import { createRequire } from "node:module";
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import { installChainedOps } from "./chained-ops.js";

installChainedOps();

export { tf, tfl };
export type { Tensor, Rank, TensorInfo, DataType, NamedTensorMap } from "@tensorflow/tfjs-core";
export type { LayersModel, Sequential, SymbolicTensor } from "@tensorflow/tfjs-layers";

/**
 * Throws when the tfjs-core that tfjs-layers loaded (through CommonJS `require`) is not the one
 * this module imported. Node resolves both to the package's CommonJS `main`; a bundler or a
 * nested node_modules copy can break that, and the symptom would otherwise be an obscure
 * "No backend found" or a failed `instanceof` deep in training.
 */
export function assertSingleTfjsCore(): void {
  const require = createRequire(import.meta.url);
  const layersCore = require(require.resolve("@tensorflow/tfjs-core", {
    paths: [require.resolve("@tensorflow/tfjs-layers")],
  })) as typeof tf;
  if (layersCore.Tensor !== tf.Tensor) {
    throw new Error(
      "two copies of @tensorflow/tfjs-core are loaded (one imported by @cohort/models, one by " +
        "@tensorflow/tfjs-layers); deduplicate node_modules so that a single copy is installed",
    );
  }
}
