import { beforeAll, describe, it } from "vitest";
import { useWasm } from "../test-support.js";
import { tf } from "../tfjs.js";
import { expectWasmMatchesCpu } from "./compare-backends.js";

describe("wasm Sum matches the cpu backend", () => {
  beforeAll(useWasm);

  const cases: Array<[number[], number | number[], boolean]> = [
    [[6, 5, 4, 3], [0, 1, 2], false], // bias gradient of a conv
    [[6, 5, 4, 3], [2, 0, 1], true], // same axes unsorted, keepDims
    [[7, 9], 0, false], // bias gradient of a dense layer
    [[7, 9], -2, true],
    [[6, 5, 4, 3], [1, 2], false], // not leading: stock kernel
    [[6, 5, 4, 3], [0, 1, 2, 3], false], // everything: stock kernel
    [[6, 5], 1, false],
  ];
  for (const [shape, axis, keepDims] of cases) {
    it(`shape ${shape} axis ${axis} keepDims ${keepDims}`, async () => {
      await tf.setBackend("cpu");
      const x = tf.randomNormal(shape, 0, 1, "float32", 2);
      // The output's shape travels as a second tensor so that keepDims is checked too.
      await expectWasmMatchesCpu(() => {
        const s = tf.sum(x, axis, keepDims);
        return [s, tf.tensor1d(s.shape)];
      });
      tf.dispose(x);
    });
  }
});
