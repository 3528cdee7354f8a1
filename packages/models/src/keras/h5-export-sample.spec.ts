/**
 * Writes Keras .h5 files with saveKerasH5 from fixture models, plus their TF.js predictions,
 * for packages/models/tools/check_keras_h5_export.py (python + h5py; not run in CI). Runs only
 * when COHORT_KERAS_EXPORT_DIR names the output folder:
 *   COHORT_KERAS_EXPORT_DIR=/tmp/x npx vitest run packages/models/src/keras/h5-export-sample
 */
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { writeNpy } from "@cohort/tensors";
import { describe, expect, it } from "vitest";
import { selectBackend } from "../backend.js";
import { loadKerasModel } from "../keras-source.js";
import type { tf } from "../tfjs.js";
import { fixturesDir, readNpyFile } from "./fixture-support.js";
import { saveKerasH5 } from "./h5-export.js";

const out = process.env.COHORT_KERAS_EXPORT_DIR;

describe("Keras h5 export samples for the python check", () => {
  it.skipIf(!out)("writes <fixture>.h5 + <fixture>.tfjs.npy (skipped: set COHORT_KERAS_EXPORT_DIR to run)", async () => {
    await selectBackend("cpu");
    mkdirSync(out!, { recursive: true });
    for (const [rel, dir] of [["keras/keras224-mnist-cnn/model.h5", "keras/keras224-mnist-cnn"], ["keras/keras3-mnist-softmax/model.keras", "keras/keras3-mnist-softmax"], ["savedmodel/openmv-cnn", "savedmodel/openmv-cnn"]]) {
      const model = await loadKerasModel(path.join(fixturesDir, rel));
      const name = path.basename(dir);
      await saveKerasH5(model, path.join(out!, `${name}.h5`));
      const y = model.predict(readNpyFile(path.join(fixturesDir, dir, "input.npy"))) as tf.Tensor;
      writeFileSync(path.join(out!, `${name}.tfjs.npy`), writeNpy({ dtype: "float32", shape: y.shape, data: y.dataSync() as Float32Array }));
    }
    expect(true).toBe(true);
  });
});
