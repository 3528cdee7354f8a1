/** Shared by the specs: a backend for the run and a small model to exercise I/O and weights. */
import { selectBackend } from "./backend.js";
import { tfl, type LayersModel } from "./tfjs.js";

export async function useWasm(): Promise<void> {
  const chosen = await selectBackend("wasm");
  if (chosen.name !== "wasm") throw new Error(`expected the wasm backend, got ${chosen.name} (${chosen.detail})`);
}

/** Conv + pool + dense: has kernels and biases of several shapes, and a layer without weights. */
export function tinyCnn(): LayersModel {
  return tfl.sequential({
    layers: [
      tfl.layers.conv2d({ inputShape: [8, 8, 1], filters: 3, kernelSize: 3, activation: "relu" }),
      tfl.layers.maxPooling2d({ poolSize: 2 }),
      tfl.layers.flatten(),
      tfl.layers.dense({ units: 4, activation: "softmax" }),
    ],
  });
}
