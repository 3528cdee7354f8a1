/**
 * `cohort model train` through the built CLI (run `npm run build` first), as a user runs it before
 * joining a federation: a torch.save'd nn.Sequential (IBM FL's PytorchFLModel spec, Adadelta +
 * NLLLoss) trained on a csv file; epochs' loss and the test split's metrics printed; the model
 * exported as the aggregator exports it; with --no-shuffle two runs give byte-identical weights.
 */
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";

const run = promisify(execFile);
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const cli = path.join(repoRoot, "packages/cli/dist/main.js");
// Linear(6, 8) -> Tanh -> Linear(8, 4) -> LogSoftmax, written by packages/models/testdata/optimizers/gen.py.
const modelFile = path.join(repoRoot, "packages/models/testdata/optimizers/torch/mlp_logsoftmax.pt");
const dir = mkdtempSync(path.join(tmpdir(), "cohort-model-train-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** 200 rows of 6 features; the label is the index of the largest of the first 4 (learnable). */
function writeCsv(file: string): void {
  let seed = 12345;
  const next = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2 - 1;
  const rows = ["f0,f1,f2,f3,f4,f5,label"];
  for (let i = 0; i < 200; i++) {
    const f = Array.from({ length: 6 }, next);
    const label = f.slice(0, 4).reduce((best, v, j, a) => (v > a[best]! ? j : best), 0);
    rows.push([...f.map((v) => v.toFixed(4)), label].join(","));
  }
  writeFileSync(file, `${rows.join("\n")}\n`);
}

async function train(out: string, extra: string[] = []) {
  const spec = path.join(dir, "spec.yml");
  const r = await run(process.execPath, [cli, "model", "train", spec, "--data", path.join(dir, "data.csv"), "--epochs", "3", "--batch-size", "16", "--out", out, "--backend", "cpu", ...extra], { cwd: dir, timeout: 120_000 });
  return r.stdout;
}

describe("cohort model train (built CLI)", () => {
  it("trains a PyTorch spec on a csv, prints epochs and test metrics, exports, and is deterministic with --no-shuffle", async () => {
    if (!existsSync(cli)) throw new Error(`${cli} is missing: run npm run build first`);
    writeCsv(path.join(dir, "data.csv"));
    writeFileSync(path.join(dir, "spec.yml"), `model_definition: ${modelFile}\noptimizer: optim.Adadelta\nlearning_rate: 1.0\nloss_criterion: nn.NLLLoss\n`);
    const [a, b] = await Promise.all([train(path.join(dir, "a"), ["--no-shuffle"]), train(path.join(dir, "b"), ["--no-shuffle"])]);
    console.log(a);
    const losses = [...a.matchAll(/^epoch (\d)\/3 {2}loss ([\d.]+) {2}accuracy ([\d.]+)/gm)].map((m) => Number(m[2]));
    expect(losses).toHaveLength(3);
    expect(losses[2]!).toBeLessThan(losses[0]!);
    expect(a).toMatch(/^test \(40 examples\) {2}loss [\d.]+ {2}accuracy [\d.]+$/m);
    for (const f of ["model.json", "weights.bin", "model.onnx", "model.pt"]) expect(a).toContain(`wrote ${path.join(dir, "a", f)}`);
    // Same spec, same data, same order: the same weights, byte for byte (and the same printed metrics).
    expect(readFileSync(path.join(dir, "a", "weights.bin")).equals(readFileSync(path.join(dir, "b", "weights.bin")))).toBe(true);
    expect(b.replace(/in [\d.]+ s/, "").replaceAll(`${path.sep}b${path.sep}`, `${path.sep}a${path.sep}`)).toBe(a.replace(/in [\d.]+ s/, ""));
    // The trained weights differ from the file's: training changed the model that was exported.
    const before = readFileSync(modelFile);
    expect(readFileSync(path.join(dir, "a", "model.pt")).length).toBeGreaterThan(0);
    expect(before.equals(readFileSync(path.join(dir, "a", "model.pt")))).toBe(false);
  }, 240_000);

  it("refuses a data file it cannot read, naming it", async () => {
    writeFileSync(path.join(dir, "x.txt"), "1,2\n");
    const failed = await run(process.execPath, [cli, "model", "train", modelFile, "--data", path.join(dir, "x.txt")], { cwd: dir, timeout: 60_000 }).catch((e: { code: number; stderr: string }) => e);
    expect((failed as { code: number }).code).toBe(2);
    expect((failed as { stderr: string }).stderr).toContain(`${path.join(dir, "x.txt")}: --data takes an .npz`);
  }, 60_000);
});
