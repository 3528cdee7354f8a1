/** Test helper: shared / generated fixtures and the exactness measure (not built). */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { readNpy } from "@cohort/tensors";
import { tf } from "../tfjs.js";

const here = path.dirname(fileURLToPath(import.meta.url));
/** packages/models/src/pytorch -> repository root; shared/ sits beside it (also in CI). */
export const repoRoot = path.resolve(here, "../../../..");
export const sharedFixtures = path.resolve(repoRoot, "../shared/fixtures");
export const ownFixtures = path.resolve(here, "../../test-fixtures");
/** test/corpus/pytorch: models as users save them, from gen_pytorch_corpus.py (torch 2.13). */
export const torchCorpus = path.join(repoRoot, "test/corpus/pytorch");

export function sharedFixture(rel: string) {
  const dir = path.join(sharedFixtures, rel);
  return { dir, present: existsSync(dir), absent: `skipped: ${dir} is absent (the shared fixtures live only in ../shared/fixtures beside the repository)` };
}

export function npy(file: string): tf.Tensor {
  const a = readNpy(new Uint8Array(readFileSync(file)), file);
  return tf.tensor(Float32Array.from(a.data as ArrayLike<number>), a.shape, "float32");
}

/** max|actual - expected| / max|expected|. */
export function relError(actual: tf.Tensor, expected: tf.Tensor): number {
  if (actual.shape.join(",") !== expected.shape.join(",")) throw new Error(`output shape [${actual.shape}] != expected [${expected.shape}]`);
  return tf.tidy(() => tf.max(tf.abs(tf.sub(actual, expected))).dataSync()[0]! / tf.max(tf.abs(expected)).dataSync()[0]!);
}
