// Writes each corpus model's weights, perturbed as training would change them, as a state_dict
// (Cohort's saveTorchStateDict), with a random input and Cohort's output for it, into OUT, for
// check_state_dicts.py to load with PyTorch. Not run in CI (the check needs torch).
// usage: npm run build && node test/corpus/pytorch/export_state_dicts.mjs OUT
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { getWeights, loadTorchSequential, saveTorchStateDict, selectBackend, setWeights, tf } from "../../../packages/models/dist/index.js";
import { readNpy, writeNpy } from "../../../packages/tensors/dist/index.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const out = path.resolve(process.argv[2] ?? "state-dicts");
mkdirSync(out, { recursive: true });
await selectBackend("cpu");
for (const name of readdirSync(here).filter((n) => existsSync(path.join(here, n, "spec.yml")))) {
  const dir = path.join(here, name);
  const file = path.join(dir, readdirSync(dir).find((f) => f.endsWith(".pt")));
  const shape = readNpy(new Uint8Array(readFileSync(path.join(dir, "input.npy"))), "input.npy").shape.slice(1);
  const model = loadTorchSequential(file, { hint: { shape, from: "input.npy" } });
  const weights = getWeights(model).map((t) => ({ ...t, data: Float32Array.from(t.data, (v, i) => v + 0.01 * Math.sin(i)) }));
  setWeights(model, weights);
  saveTorchStateDict(model, path.join(out, `${name}.pt`), weights);
  const x = tf.randomUniform([3, ...shape], 0, 1, "float32", 5);
  const y = model.predict(x);
  writeFileSync(path.join(out, `${name}.x.npy`), writeNpy({ dtype: "float32", shape: x.shape, data: x.dataSync() }));
  writeFileSync(path.join(out, `${name}.y.npy`), writeNpy({ dtype: "float32", shape: y.shape, data: y.dataSync() }));
  console.log(`${name} ${file}`);
}
