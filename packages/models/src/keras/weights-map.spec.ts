import { describe, expect, it } from "vitest";
import { type LayerWeights, regroupByLayer } from "./weights-map.js";

const w = (name: string, path?: string[]) => ({ name, path, shape: [1], data: Float32Array.of(0) });
const summary = (stored: LayerWeights) => Object.fromEntries([...stored].map(([k, ws]) => [k, ws.map((x) => x.name)]));

describe("regroupByLayer", () => {
  it("gives a weight to the last group on its path that is a layer of the model", () => {
    const stored: LayerWeights = new Map([
      // Keras 3's legacy h5 writer and tf.keras: an RNN's weights under its cell, a Bidirectional's under forward_/backward_ layers.
      ["lstm_cell", [w("kernel", ["lstm_2", "lstm_2", "lstm_cell"]), w("bias", ["lstm_2", "lstm_2", "lstm_cell"])]],
      ["bidi_cell", [w("kernel", ["bidirectional", "seq", "bidirectional", "forward_lstm", "lstm_cell"]), w("kernel", ["bidirectional", "seq", "bidirectional", "backward_lstm", "lstm_cell"])]],
      // A nested model's group holds its inner layers' weights.
      ["dense_3", [w("kernel", ["block", "block", "dense_3"])]],
      // Keras 2.2.4: the layer is the group itself.
      ["bidirectional_1", [w("kernel", ["bidirectional_1", "forward_lstm_1"])]],
    ]);
    expect(summary(regroupByLayer(stored, new Set(["lstm_2", "bidirectional", "dense_3", "bidirectional_1"])))).toEqual({
      lstm_2: ["kernel", "bias"],
      bidirectional: ["kernel", "kernel"],
      dense_3: ["kernel"],
      bidirectional_1: ["kernel"],
    });
  });

  it("keeps the file's key when no group on the path is a layer (reported later as a weight of an unknown layer) or when weights carry no path", () => {
    const stored: LayerWeights = new Map([["ghost", [w("kernel", ["ghost"])]], ["conv", [w("kernel")]]]);
    expect(summary(regroupByLayer(stored, new Set(["conv"])))).toEqual({ ghost: ["kernel"], conv: ["kernel"] });
  });
});
