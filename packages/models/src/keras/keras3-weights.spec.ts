import { describe, expect, it } from "vitest";
import { keras3ObjectPaths, kerasSnakeCase } from "./keras3-weights.js";

const layer = (class_name: string, name: string, config: Record<string, unknown> = {}) => ({ class_name, config: { name, ...config } });

describe("Keras 3 object paths", () => {
  it("snake-cases class names as keras.src.utils.naming does", () => {
    expect(["Conv2D", "BatchNormalization", "InputLayer", "SimpleRNN", "GlobalAveragePooling1D", "LSTM", "MaxPooling2D"].map(kerasSnakeCase))
      .toEqual(["conv2d", "batch_normalization", "input_layer", "simple_rnn", "global_average_pooling1d", "lstm", "max_pooling2d"]);
  });

  it("numbers layers by class in list order, whatever their names, and descends into nested models and RNN cells", () => {
    const config = {
      class_name: "Sequential",
      config: {
        name: "seq",
        layers: [
          layer("InputLayer", "input_layer_4"),
          layer("Dense", "dense_7"),
          layer("Functional", "block", { layers: [layer("InputLayer", "inner_in"), layer("Dense", "dense_3"), layer("Dense", "head")] }),
          layer("Dense", "dense_8"),
          layer("LSTM", "lstm_2"),
          layer("Bidirectional", "bidi", { layer: layer("GRU", "gru") }),
        ],
      },
    };
    expect(Object.fromEntries(keras3ObjectPaths(config))).toEqual({
      dense_7: ["layers/dense"],
      dense_3: ["layers/functional/layers/dense"],
      head: ["layers/functional/layers/dense_1"],
      inner_in: ["layers/functional/layers/input_layer"],
      dense_8: ["layers/dense_1"],
      lstm_2: ["layers/lstm/cell"],
      bidi: ["layers/bidirectional/forward_layer/cell", "layers/bidirectional/backward_layer/cell"],
    });
  });

  it("counts a Functional model's InputLayers (Sequential leaves its own out)", () => {
    const config = { class_name: "Functional", config: { layers: [layer("InputLayer", "a"), layer("InputLayer", "b"), layer("Add", "add_3")] } };
    expect(keras3ObjectPaths(config).get("b")).toEqual(["layers/input_layer_1"]);
  });
});
