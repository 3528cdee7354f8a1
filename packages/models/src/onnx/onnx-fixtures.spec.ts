import { existsSync, readdirSync } from "node:fs";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { selectBackend } from "../backend.js";
import { tf } from "../tfjs.js";
import { npy, ownFixtures, relError, sharedFixture } from "../pytorch/fixture-check.js";
import { loadOnnxAsLayers } from "./source.js";
import { OnnxRuntimeModel } from "./ort.js";

const TOLERANCE = 1e-5;
const shared = ["onnx/cntk-mnist", "pytorch/seed_sequential", "pytorch/small_conv_bn"].map((rel) => ({ rel, ...sharedFixture(rel) }));
const ownDir = path.join(ownFixtures, "pytorch");
const own = existsSync(ownDir) ? readdirSync(ownDir).filter((n) => existsSync(path.join(ownDir, n, "model.onnx"))).map((n) => ({ rel: `generated ${n}`, dir: path.join(ownDir, n), present: true, absent: "" })) : [];

describe("ONNX models: trainable import and onnxruntime evaluation match expected.npy (cpu backend)", () => {
  beforeAll(async () => { await selectBackend("cpu"); });

  for (const f of [...shared, ...own]) {
    it.skipIf(!f.present)(`${f.rel} imported as layers ${f.absent}`, () => {
      const model = loadOnnxAsLayers(path.join(f.dir, "model.onnx"));
      const err = tf.tidy(() => relError(model.predict(npy(path.join(f.dir, "input.npy"))) as tf.Tensor, npy(path.join(f.dir, "expected.npy"))));
      console.log(`onnx import ${f.rel}: max rel error ${err.toExponential(2)}`);
      expect(err).toBeLessThanOrEqual(TOLERANCE);
    });
    it.skipIf(!f.present)(`${f.rel} through onnxruntime-node ${f.absent}`, async () => {
      const session = await OnnxRuntimeModel.load(path.join(f.dir, "model.onnx"));
      const x = npy(path.join(f.dir, "input.npy"));
      const y = await session.predict({ shape: x.shape, data: x.dataSync() as Float32Array });
      await session.release();
      const err = relError(tf.tensor(y.data, y.shape), npy(path.join(f.dir, "expected.npy")));
      console.log(`onnxruntime ${f.rel}: max rel error ${err.toExponential(2)}`);
      expect(err).toBeLessThanOrEqual(TOLERANCE);
    });
  }
});
