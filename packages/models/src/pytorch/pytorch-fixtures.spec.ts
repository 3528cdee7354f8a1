import { existsSync, readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { selectBackend } from "../backend.js";
import { tf } from "../tfjs.js";
import { loadTorchSequential } from "./source.js";
import { npy, ownFixtures, relError, sharedFixture } from "./fixture-check.js";

const TOLERANCE = 1e-5;

/** Generated fixtures name their input shape in spec.yml; the shared ones take input.npy's, as `cohort model predict` does. */
function inputShape(dir: string): number[] | undefined {
  const spec = path.join(dir, "spec.yml");
  const m = existsSync(spec) ? /^input_shape: \[(.*)\]$/m.exec(readFileSync(spec, "utf8")) : null;
  return m ? m[1]!.split(",").map(Number) : undefined;
}

function check(dir: string): number {
  const x = npy(path.join(dir, "input.npy"));
  const model = loadTorchSequential(path.join(dir, "model.pt"), { inputShape: inputShape(dir), hint: { shape: x.shape.slice(1), from: "input.npy" } });
  return tf.tidy(() => relError(model.predict(x) as tf.Tensor, npy(path.join(dir, "expected.npy"))));
}

describe("PyTorch fixtures predict like PyTorch (cpu backend)", () => {
  beforeAll(async () => { await selectBackend("cpu"); });

  for (const name of ["seed_sequential", "small_conv_bn", "mathoptai-mlp"]) {
    const f = sharedFixture(`pytorch/${name}`);
    it.skipIf(!f.present)(`shared ${name} ${f.present ? "" : f.absent}`, () => {
      const err = check(f.dir);
      console.log(`pytorch/${name}: max rel error ${err.toExponential(2)}`);
      expect(err).toBeLessThanOrEqual(TOLERANCE);
    });
  }

  const own = path.join(ownFixtures, "pytorch");
  const names = existsSync(own) ? readdirSync(own).filter((n) => existsSync(path.join(own, n, "model.pt"))) : [];
  for (const name of names) {
    it(`generated ${name}`, () => {
      const err = check(path.join(own, name));
      console.log(`generated pytorch/${name}: max rel error ${err.toExponential(2)}`);
      expect(err).toBeLessThanOrEqual(TOLERANCE);
    });
  }
});
