/**
 * Test helpers for the third-party model fixtures in `../shared/fixtures` beside the
 * repository (never copied into it: three of them carry no licence). Found relative to the
 * repository root, so that a CI checkout elsewhere with shared/ beside it works too.
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { readNpy } from "@cohort/tensors";
import { tf, type LayersModel } from "../tfjs.js";

const here = path.dirname(fileURLToPath(import.meta.url));
/** packages/models/src/keras -> repository root. */
export const repoRoot = path.resolve(here, "../../../..");
export const fixturesDir = path.resolve(repoRoot, "../shared/fixtures");

export function fixture(rel: string): { dir: string; present: boolean; absent: string } {
  const dir = path.join(fixturesDir, rel);
  return { dir, present: existsSync(dir), absent: `fixture dir ${dir} is absent (the unlicensed fixtures live only in ../shared/fixtures)` };
}

export function readNpyFile(file: string): tf.Tensor {
  const a = readNpy(new Uint8Array(readFileSync(file)), file);
  return tf.tensor(a.data as Float32Array, a.shape, "float32");
}

/** max|actual - expected| / max|expected| for the fixture's input.npy / expected.npy. */
export function relativeError(model: LayersModel, dir: string): number {
  return tf.tidy(() => {
    const x = readNpyFile(path.join(dir, "input.npy"));
    const expected = readNpyFile(path.join(dir, "expected.npy"));
    const actual = model.predict(x) as tf.Tensor;
    if (actual.shape.join(",") !== expected.shape.join(",")) throw new Error(`output shape [${actual.shape}] != expected [${expected.shape}]`);
    const diff = tf.max(tf.abs(tf.sub(actual, expected))).dataSync()[0];
    return diff / tf.max(tf.abs(expected)).dataSync()[0];
  });
}
