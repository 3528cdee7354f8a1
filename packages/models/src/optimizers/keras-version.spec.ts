/**
 * The Keras generation comes from the file: compile options naming only "adadelta" give Keras
 * 2.2.4's lr 1.0 on a Keras 2.2.4 file and tf.keras' 0.001 on a tf.keras 2.12 one. Third-party
 * fixtures are read in place from ../shared/fixtures and skipped when absent.
 */
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { selectBackend } from "../backend.js";
import { loadModelFromSpec } from "../model-spec.js";

const shared = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../../../shared/fixtures/keras");
const cases = [
  { dir: "keras224-mnist-cnn", version: "2.2.4", lr: 1.0, loss: "sparse_categorical_crossentropy", trained: { class: "Adam", lr: 0.001 } },
  { dir: "tf212-house-mlp", version: "2.12.0", lr: 0.001, loss: "mse", trained: { class: "Adam", lr: 0.001 } },
];

beforeAll(async () => { await selectBackend("cpu"); });

describe("Keras optimizer defaults follow the file's keras_version", () => {
  for (const c of cases) {
    const file = path.join(shared, c.dir, "model.h5");
    const present = existsSync(file);
    it.skipIf(!present)(`${c.dir} (keras_version ${c.version}): adadelta by name gets lr ${c.lr}; the file's own training_config keeps its optimizer${present ? "" : ` skipped: ${file} is absent (third-party fixture, not in the repository)`}`, async () => {
      const named = await loadModelFromSpec({ name: "KerasFLModel", specBaseDir: path.dirname(file), spec: { model_definition: "model.h5", compile_model_options: { optimizer: "adadelta", loss: c.loss } } });
      expect(named.optimizer.getClassName()).toBe("Adadelta");
      expect(named.optimizer.getConfig()).toMatchObject({ learning_rate: c.lr, rho: 0.95, epsilon: 1e-7 });
      const own = await loadModelFromSpec({ name: "KerasFLModel", specBaseDir: path.dirname(file), spec: { model_definition: "model.h5" } });
      expect(own.optimizer.getClassName()).toBe(c.trained.class);
      expect(own.optimizer.getConfig().learning_rate as number).toBeCloseTo(c.trained.lr, 9);
    });
  }
});
