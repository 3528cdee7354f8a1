import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { selectBackend } from "../backend.js";
import { fixture, relativeError } from "./fixture-support.js";
import { loadKerasH5 } from "./h5-model.js";
import { loadKeras3 } from "./keras3.js";

const TOLERANCE = 1e-5;
const cnn = fixture("keras/keras224-mnist-cnn");
const house = fixture("keras/tf212-house-mlp");
const k3 = fixture("keras/keras3-mnist-softmax");

describe("Keras fixtures match expected.npy (cpu backend)", () => {
  beforeAll(async () => {
    await selectBackend("cpu");
  });

  it.skipIf(!cnn.present)(`Keras 2.2.4 h5 mnist cnn${cnn.present ? "" : ` (skipped: ${cnn.absent})`}`, async () => {
    const model = await loadKerasH5(path.join(cnn.dir, "model.h5"));
    const err = relativeError(model, cnn.dir);
    console.info(`keras224-mnist-cnn max rel err ${err.toExponential(2)}`);
    expect(err).toBeLessThanOrEqual(TOLERANCE);
    expect(model.optimizer).toBeDefined();
  });

  it.skipIf(!house.present)(`tf.keras 2.12 h5 house mlp${house.present ? "" : ` (skipped: ${house.absent})`}`, async () => {
    const model = await loadKerasH5(path.join(house.dir, "model.h5"));
    const err = relativeError(model, house.dir);
    console.info(`tf212-house-mlp max rel err ${err.toExponential(2)}`);
    expect(err).toBeLessThanOrEqual(TOLERANCE);
  });

  it.skipIf(!k3.present)(`Keras 3 .keras mnist softmax${k3.present ? "" : ` (skipped: ${k3.absent})`}`, async () => {
    const model = await loadKeras3(path.join(k3.dir, "model.keras"));
    const err = relativeError(model, k3.dir);
    console.info(`keras3-mnist-softmax max rel err ${err.toExponential(2)}`);
    expect(err).toBeLessThanOrEqual(TOLERANCE);
  });
});
