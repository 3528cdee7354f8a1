import { beforeAll, describe, expect, it } from "vitest";
import { selectBackend } from "../backend.js";
import { loadKerasSavedModel } from "../savedmodel/keras-savedmodel.js";
import { fixture, relativeError } from "./fixture-support.js";

const TOLERANCE = 1e-5;
const house = fixture("savedmodel/tf-house-mlp");
const openmv = fixture("savedmodel/openmv-cnn");

describe("SavedModel fixtures match expected.npy (cpu backend)", () => {
  beforeAll(async () => {
    await selectBackend("cpu");
  });

  it.skipIf(!house.present)(`TF 2.12 SavedModel house mlp${house.present ? "" : ` (skipped: ${house.absent})`}`, async () => {
    const model = await loadKerasSavedModel(house.dir);
    const err = relativeError(model, house.dir);
    console.info(`savedmodel/tf-house-mlp max rel err ${err.toExponential(2)}`);
    expect(err).toBeLessThanOrEqual(TOLERANCE);
    expect(model.optimizer).toBeDefined();
  });

  it.skipIf(!openmv.present)(`TF 2.8 SavedModel openmv MobileNet${openmv.present ? "" : ` (skipped: ${openmv.absent})`}`, async () => {
    const model = await loadKerasSavedModel(openmv.dir);
    const err = relativeError(model, openmv.dir);
    console.info(`savedmodel/openmv-cnn max rel err ${err.toExponential(2)}`);
    expect(err).toBeLessThanOrEqual(TOLERANCE);
  });
});
