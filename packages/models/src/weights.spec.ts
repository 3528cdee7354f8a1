import { fingerprint } from "@cohort/tensors";
import { beforeAll, describe, expect, it } from "vitest";
import { createKerasMnistCnn } from "./mnist-cnn.js";
import { tinyCnn, useWasm } from "./test-support.js";
import { tf } from "./tfjs.js";
import { getWeights, modelManifest, setWeights } from "./weights.js";

describe("model weights as a WeightSet", () => {
  beforeAll(useWasm);

  it("names tensors by layer position and class, identical for two builds in one process", () => {
    const a = tinyCnn();
    const b = tinyCnn();
    expect(a.layers[0].name).not.toBe(b.layers[0].name); // tfjs' own names differ...
    expect(modelManifest(a)).toEqual(modelManifest(b)); // ...ours do not
    expect(fingerprint(modelManifest(a))).toBe(fingerprint(modelManifest(b)));
    expect(modelManifest(a).tensors).toEqual([
      { name: "000.Conv2D/kernel", dtype: "float32", shape: [3, 3, 1, 3] },
      { name: "000.Conv2D/bias", dtype: "float32", shape: [3] },
      { name: "003.Dense/kernel", dtype: "float32", shape: [27, 4] },
      { name: "003.Dense/bias", dtype: "float32", shape: [4] },
    ]);
    const big = modelManifest(createKerasMnistCnn({ compile: false }));
    expect(new Set(big.tensors.map((t) => t.name)).size).toBe(big.tensors.length);
  });

  it("getWeights returns copies; setWeights transfers them to another build", () => {
    const a = tinyCnn();
    const b = tinyCnn();
    const ws = getWeights(a);
    expect(ws[0].data).toBeInstanceOf(Float32Array);
    setWeights(b, ws);
    const x = tf.randomUniform([2, 8, 8, 1], 0, 1, "float32", 3);
    const ya = (a.predict(x) as tf.Tensor).dataSync();
    const yb = (b.predict(x) as tf.Tensor).dataSync();
    expect(Array.from(yb)).toEqual(Array.from(ya));
    (ws[0].data as Float32Array)[0] += 1; // a copy: changing it leaves the model alone
    expect(getWeights(a)[0].data[0]).not.toBe(ws[0].data[0]);
  });

  it("setWeights refuses a mismatched WeightSet and lists the differences", () => {
    const model = tinyCnn();
    const ws = getWeights(model);
    const wrong = [{ ...ws[0], shape: [3, 3, 1, 4], data: new Float32Array(36) }, ...ws.slice(1, 3)];
    expect(() => setWeights(model, wrong)).toThrowError(/000\.Conv2D\/kernel: expected float32\[3,3,1,3\], got float32\[3,3,1,4\][\s\S]*missing 003\.Dense\/bias/);
  });
});
