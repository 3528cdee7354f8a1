import { describe, expect, it } from "vitest";
import { isKeras3Config, kerasToTfjsTopology } from "./config.js";

const K3_DTYPE = { module: "keras", class_name: "DTypePolicy", config: { name: "float32" } };
const seq = (...layers: object[]) => ({
  class_name: "Sequential",
  config: { name: "s", layers: [{ class_name: "InputLayer", config: { name: "in", batch_shape: [null, 5, 3] } }, ...layers] },
});
const convert = (config: object) => kerasToTfjsTopology(config, { file: "m.keras", custom: new Set() });
const layersOf = (t: Record<string, unknown>) => (t.config as { layers: { class_name: string; config: Record<string, unknown> }[] }).layers;

describe("Keras config conversion for sequence layers", () => {
  it("tells Keras 3 configs (DTypePolicy, module keys) from Keras 2 ones", () => {
    expect(isKeras3Config(seq({ class_name: "Dense", config: { name: "d", units: 2, dtype: K3_DTYPE } }))).toBe(true);
    expect(isKeras3Config(seq({ class_name: "Dense", config: { name: "d", units: 2, dtype: "float32" } }))).toBe(false);
  });

  it("maps GRU reset_after=true to KerasGRU, also inside Bidirectional, and drops a matching backward_layer", () => {
    const gru = { class_name: "GRU", config: { name: "gru", units: 4, reset_after: true, recurrent_activation: "sigmoid", dtype: K3_DTYPE } };
    const back = { class_name: "GRU", config: { ...gru.config, name: "backward_gru", go_backwards: true } };
    const layers = layersOf(convert(seq(gru, { class_name: "Bidirectional", config: { name: "bi", layer: gru, backward_layer: back, merge_mode: "concat" } })));
    expect(layers[1].class_name).toBe("KerasGRU");
    const wrapped = layers[2].config;
    expect((wrapped.layer as { class_name: string }).class_name).toBe("KerasGRU");
    expect(wrapped.backward_layer).toBeUndefined();
  });

  it.each([
    ["Keras 3 hard_sigmoid (another slope than TensorFlow.js')", { class_name: "LSTM", config: { name: "l", units: 2, recurrent_activation: "hard_sigmoid", dtype: K3_DTYPE } }, /hard_sigmoid.*slope 1\/6/],
    ["LayerNormalization rms_scaling", { class_name: "LayerNormalization", config: { name: "ln", axis: [-1], rms_scaling: true } }, /rms_scaling=true is not supported/],
    ["a Bidirectional whose backward layer differs", {
      class_name: "Bidirectional",
      config: { name: "bi", layer: { class_name: "LSTM", config: { name: "f", units: 2 } }, backward_layer: { class_name: "GRU", config: { name: "b", units: 2, go_backwards: true } } },
    }, /backward_layer that differs/],
  ])("refuses %s, naming the layer", (_what, layer, message) => {
    expect(() => convert(seq(layer))).toThrow(message);
  });

  it("drops Keras 3's NotEqual mask op when only mask kwargs use it, keeps (and refuses) one used as an input", () => {
    const t = (name: string) => ({ class_name: "__keras_tensor__", config: { keras_history: [name, 0, 0] } });
    const functional = (useAsInput: boolean) => ({
      class_name: "Functional",
      config: {
        name: "f",
        layers: [
          { class_name: "InputLayer", name: "in", config: { name: "in", batch_shape: [null, 4] }, inbound_nodes: [] },
          { class_name: "Embedding", name: "emb", config: { name: "emb", input_dim: 9, output_dim: 2, mask_zero: true }, inbound_nodes: [{ args: [t("in")], kwargs: {} }] },
          { class_name: "NotEqual", name: "not_equal", config: { name: "not_equal" }, inbound_nodes: [{ args: [t("in"), 0], kwargs: {} }] },
          { class_name: "LSTM", name: "lstm", config: { name: "lstm", units: 2 }, inbound_nodes: [{ args: [useAsInput ? [t("emb"), t("not_equal")] : t("emb")], kwargs: { mask: t("not_equal") } }] },
        ],
        input_layers: ["in", 0, 0],
        output_layers: ["lstm", 0, 0],
      },
    });
    expect(layersOf(convert(functional(false))).map((l) => l.class_name)).toEqual(["InputLayer", "Embedding", "LSTM"]);
    expect(() => convert(functional(true))).toThrow(/unknown layer class "NotEqual"/);
  });

  it("keeps Keras 2's hard_sigmoid (the same function as TensorFlow.js')", () => {
    const layers = layersOf(convert(seq({ class_name: "LSTM", config: { name: "l", units: 2, recurrent_activation: "hard_sigmoid" } })));
    expect(layers[1].config.recurrent_activation).toBe("hard_sigmoid");
  });
});
