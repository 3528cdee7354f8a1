import { copyFileSync, existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { writeNpy as encodeNpy } from "@cohort/tensors";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { selectBackend } from "../backend.js";
import { fixture, readNpyFile, repoRoot } from "../keras/fixture-support.js";
import { loadKerasSavedModel } from "./keras-savedmodel.js";
import { tf, type LayersModel } from "../tfjs.js";
import { getWeights, setWeights } from "../weights.js";
import { tempDirSync } from "../../../../test/helpers/temp-dirs.js";
import { readBundle } from "./bundle.js";
import { loadGraphSavedModel } from "./graph-savedmodel.js";
import { saveSavedModel } from "./savedmodel-export.js";

const writeNpy = (file: string, t: tf.Tensor) => writeFileSync(file, encodeNpy({ dtype: "float32", shape: t.shape, data: t.dataSync() as Float32Array } as Parameters<typeof encodeNpy>[0]));
/** input.npy and Cohort's output beside an export, for verify_export.py. */
function keepForTensorFlow(src: string, out: string, model: LayersModel): void {
  copyFileSync(path.join(src, "input.npy"), path.join(out, "input.npy"));
  writeFileSync(path.join(out, "source.txt"), src);
  writeNpy(path.join(out, "cohort_output.npy"), model.predict(readNpyFile(path.join(src, "input.npy"))) as tf.Tensor);
}
const corpus = path.join(repoRoot, "packages/models/test-fixtures/savedmodel");
const names = readdirSync(corpus).filter((n) => existsSync(path.join(corpus, n, "saved_model.pb")));

describe("interpreted SavedModels export back as SavedModels", () => {
  beforeAll(async () => { await selectBackend("cpu"); });

  it("rewriting a corpus bundle unchanged gives back every tensor, the object graph included", async () => {
    const out = tempDirSync("cohort-savedmodel-");
    const model = loadGraphSavedModel(path.join(corpus, "keras3-export"));
    await saveSavedModel(model, path.join(corpus, "keras3-export"), out);
    const before = readBundle(path.join(corpus, "keras3-export", "variables", "variables"));
    const after = readBundle(path.join(out, "variables", "variables"));
    expect([...after.keys()]).toEqual([...before.keys()]);
    for (const [key, t] of before) expect(after.get(key), key).toEqual(t);
  });

  for (const name of names) {
    it(`${name}: changed weights are written under the SavedModel's checkpoint keys and read back identically`, async () => {
      const src = path.join(corpus, name);
      const model = await loadKerasSavedModel(src);
      const changed = getWeights(model).map((w) => ({ ...w, data: Float32Array.from(w.data as Float32Array, (v, i) => v * 0.75 + (i % 7) * 1e-3) }));
      setWeights(model, changed);
      // SAVEDMODEL_EXPORT_DIR keeps the exports, for verify_export.py (TensorFlow's own loader).
      const keep = process.env.SAVEDMODEL_EXPORT_DIR;
      const out = keep ? path.join(keep, name) : tempDirSync("cohort-savedmodel-");
      await saveSavedModel(model, src, out);
      if (keep) keepForTensorFlow(src, out, model);
      expect(readFileSync(path.join(out, "saved_model.pb"))).toEqual(readFileSync(path.join(src, "saved_model.pb")));
      const back = await loadKerasSavedModel(out);
      expect(getWeights(back)).toEqual(changed);
      const x = readNpyFile(path.join(src, "input.npy"));
      const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(back.predict(x) as tf.Tensor, model.predict(x) as tf.Tensor))).dataSync()[0]!);
      expect(diff).toBe(0);
    });
  }
});

describe("Keras SavedModels (with a Keras config) export back as SavedModels", () => {
  beforeAll(async () => { await selectBackend("cpu"); });
  for (const rel of ["savedmodel/tf-house-mlp", "savedmodel/openmv-cnn"]) {
    const f = fixture(rel);
    it.skipIf(!f.present)(`${rel}: changed weights land under its checkpoint keys and load back identically${f.present ? "" : ` (skipped: ${f.absent})`}`, async () => {
      const model = await loadKerasSavedModel(f.dir);
      const changed = getWeights(model).map((w) => ({ ...w, data: Float32Array.from(w.data as Float32Array, (v, i) => v * 0.9 + (i % 5) * 1e-3) }));
      setWeights(model, changed);
      const keep = process.env.SAVEDMODEL_EXPORT_DIR;
      const out = keep ? path.join(keep, path.basename(f.dir)) : tempDirSync("cohort-savedmodel-");
      await saveSavedModel(model, f.dir, out);
      if (keep) keepForTensorFlow(f.dir, out, model);
      const back = await loadKerasSavedModel(out);
      expect(getWeights(back)).toEqual(changed);
      const before = readBundle(path.join(f.dir, "variables", "variables"));
      const after = readBundle(path.join(out, "variables", "variables"));
      const rewritten = [...before.keys()].filter((k) => !before.get(k)!.float32 || before.get(k)!.float32!.some((v, i) => v !== after.get(k)!.float32![i]));
      // Every trained weight moved; the object graph and other entries kept their bytes.
      expect(rewritten.filter((k) => after.get(k)!.float32).length).toBe(changed.length);
    });
  }
});
