/**
 * Every model of the committed Keras corpus (test/corpus/keras, written by Keras 3.15 through
 * gen_keras_corpus.py) loads through loadModelFromSpec as a party config would load it,
 * predicts Keras' own output for the seeded input within 1e-5 of the largest output, exports
 * as a Keras HDF5 file (and a `.keras` source also as a `.keras` archive) that loads back and
 * predicts the same, and trains with the compile
 * settings it came with (its loss falls over a few batches).
 *
 * KERAS_CORPUS_EXPORT_DIR=dir keeps the exported h5 / .keras files there, for
 * test/corpus/keras/check_h5_export.py to load them with Keras itself.
 */
import { copyFileSync, mkdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { selectBackend } from "../backend.js";
import { loadModelFromSpec } from "../model-spec.js";
import { tf, type LayersModel } from "../tfjs.js";
import { readNpyFile, relativeError, repoRoot } from "./fixture-support.js";
import { saveKerasH5 } from "./h5-export.js";
import { loadKerasH5 } from "./h5-model.js";
import { loadKeras3 } from "./keras3.js";
import { saveKeras3Archive } from "./keras3-export.js";
import { tempDirSync } from "../../../../test/helpers/temp-dirs.js";

const TOLERANCE = 1e-5;
const corpusDir = path.join(repoRoot, "test/corpus/keras");
interface Entry { name: string; dir?: string; spec: Record<string, unknown>; model: string; task: string }
const corpus = JSON.parse(readFileSync(path.join(corpusDir, "corpus.json"), "utf8")) as { keras_version: string; models: Entry[] };

const STEPS = 8;

/**
 * Trains on the corpus input towards classes the model does not predict yet, with the loss and
 * optimizer of its own compile settings; returns the loss before each step and after the last.
 */
async function trainSteps(model: LayersModel, dir: string, classes: number): Promise<number[]> {
  const x = readNpyFile(path.join(dir, "input.npy"));
  const expected = readNpyFile(path.join(dir, "expected.npy"));
  const target = tf.tidy(() => tf.mod(tf.add(tf.argMax(expected, -1), 1), classes));
  const loss = String((model as unknown as { loss?: unknown }).loss ?? "");
  const y = /sparse/i.test(loss) ? target.cast("float32") : tf.oneHot(target.cast("int32"), classes).cast("float32");
  const losses: number[] = [];
  const lossNow = () => tf.tidy(() => (model.evaluate(x, y) as tf.Scalar[] | tf.Scalar));
  for (let i = 0; i <= STEPS; i++) {
    const l = lossNow();
    losses.push((Array.isArray(l) ? l[0] : l).dataSync()[0]);
    if (i < STEPS) await model.trainOnBatch(x, y);
  }
  tf.dispose([x, expected, target, y]);
  return losses;
}

describe(`Keras ${corpus.keras_version} corpus predicts as Keras does (wasm backend)`, () => {
  beforeAll(async () => {
    // wasm (Cohort's conv-gradient kernels) trains the guide's CNN ~10x faster than cpu; it agrees with Keras within 1e-5 too.
    await selectBackend("wasm");
  });

  it.each(corpus.models.map((e) => [e.name, e] as const))("%s", async (_name, entry) => {
    const dir = path.join(corpusDir, entry.dir ?? entry.name);
    const model = await loadModelFromSpec({ name: "KerasFLModel", spec: entry.spec, specBaseDir: dir });
    const err = relativeError(model, dir);
    const exported = path.join(tempDirSync("cohort-keras-corpus-"), "model.h5");
    await saveKerasH5(model, exported);
    const exportErr = relativeError(await loadKerasH5(exported), dir);
    if (process.env.KERAS_CORPUS_EXPORT_DIR) {
      mkdirSync(process.env.KERAS_CORPUS_EXPORT_DIR, { recursive: true });
      copyFileSync(exported, path.join(process.env.KERAS_CORPUS_EXPORT_DIR, `${entry.name}.h5`));
    }
    // A .keras source is also written back as a .keras archive (its config, the model's weights).
    const definition = String(entry.spec.model_definition ?? "");
    let archiveErr = 0;
    if (definition.endsWith(".keras")) {
      const archive = path.join(path.dirname(exported), "model.keras");
      await saveKeras3Archive(model, path.join(dir, definition), archive);
      archiveErr = relativeError(await loadKeras3(archive), dir);
      if (process.env.KERAS_CORPUS_EXPORT_DIR) copyFileSync(archive, path.join(process.env.KERAS_CORPUS_EXPORT_DIR, `${entry.name}.keras`));
    }
    console.info(`${entry.name} (${entry.model}): max rel err ${err.toExponential(2)}, exported h5 ${exportErr.toExponential(2)}${definition.endsWith(".keras") ? `, exported .keras ${archiveErr.toExponential(2)}` : ""}`);
    expect(err).toBeLessThanOrEqual(TOLERANCE);
    expect(exportErr).toBeLessThanOrEqual(TOLERANCE);
    expect(archiveErr).toBeLessThanOrEqual(TOLERANCE);
    // Same file read another way (entry.dir): trained once, under its own name.
    if (entry.dir) return;
    const losses = await trainSteps(model, dir, entry.task === "tokens" ? 2 : 10);
    console.info(`${entry.name}: loss ${losses.map((l) => l.toFixed(4)).join(" ")}`);
    expect(losses.at(-1)!).toBeLessThan(losses[0]);
  }, 120_000);
});
