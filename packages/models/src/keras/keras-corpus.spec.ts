/**
 * Every model of the committed Keras corpus (test/corpus/keras, written by Keras 3.15 through
 * gen_keras_corpus.py) loads through loadModelFromSpec as a party config would load it and
 * predicts Keras' own output for the seeded input within 1e-5 of the largest output.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { selectBackend } from "../backend.js";
import { loadModelFromSpec } from "../model-spec.js";
import { relativeError, repoRoot } from "./fixture-support.js";

const TOLERANCE = 1e-5;
export const corpusDir = path.join(repoRoot, "test/corpus/keras");
interface Entry { name: string; dir?: string; spec: Record<string, unknown>; model: string; task: string }
const corpus = JSON.parse(readFileSync(path.join(corpusDir, "corpus.json"), "utf8")) as { keras_version: string; models: Entry[] };

describe(`Keras ${corpus.keras_version} corpus predicts as Keras does (cpu backend)`, () => {
  beforeAll(async () => {
    await selectBackend("cpu");
  });

  it.each(corpus.models.map((e) => [e.name, e] as const))("%s", async (_name, entry) => {
    const dir = path.join(corpusDir, entry.dir ?? entry.name);
    const model = await loadModelFromSpec({ name: "KerasFLModel", spec: entry.spec, specBaseDir: dir });
    const err = relativeError(model, dir);
    console.info(`${entry.name} (${entry.model}): max rel err ${err.toExponential(2)}`);
    expect(err).toBeLessThanOrEqual(TOLERANCE);
  });
});
