import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { useWasm } from "../test-support.js";
import { fixture, relativeError } from "./fixture-support.js";
import { loadKerasH5 } from "./h5-model.js";

const cnn = fixture("keras/keras224-mnist-cnn");

describe("Keras fixture on the wasm backend", () => {
  beforeAll(useWasm);

  it.skipIf(!cnn.present)(`Keras 2.2.4 h5 mnist cnn matches expected.npy on wasm${cnn.present ? "" : ` (skipped: ${cnn.absent})`}`, async () => {
    const model = await loadKerasH5(path.join(cnn.dir, "model.h5"));
    const err = relativeError(model, cnn.dir);
    console.info(`keras224-mnist-cnn on wasm: max rel err ${err.toExponential(2)}`);
    expect(err).toBeLessThanOrEqual(1e-5);
  });
});
