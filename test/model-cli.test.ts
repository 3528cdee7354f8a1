/**
 * `cohort model predict` / `inspect` through the built CLI (run `npm run build` first) over
 * every model fixture: the shared third-party ones in ../shared/fixtures (read in place, never
 * copied; skipped when absent) and the generated PyTorch ones in packages/models/test-fixtures.
 * The cpu backend makes the numbers reproducible; the measure is the fixtures' README's:
 * max|actual - expected| <= 1e-5 * max|expected|.
 */
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readNpy } from "@cohort/tensors";

const run = promisify(execFile);
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const cli = path.join(repoRoot, "packages/cli/dist/main.js");
const shared = path.resolve(repoRoot, "../shared/fixtures");
const generated = path.join(repoRoot, "packages/models/test-fixtures/pytorch");
const TOLERANCE = 1e-5;

interface Fixture { label: string; dir: string; spec: string }

/** SPEC per fixture: its spec.yml where it has one, else the model file or SavedModel directory itself. */
function specOf(dir: string): string {
  for (const f of ["spec.yml", "model.h5", "model.keras", "model.onnx", "model.pt"]) if (existsSync(path.join(dir, f))) return path.join(dir, f);
  return dir;
}
const sharedFixtures: Fixture[] = existsSync(shared)
  ? readdirSync(shared).filter((k) => k !== "tools" && !k.endsWith(".md")).flatMap((kind) => readdirSync(path.join(shared, kind)).map((n) => ({ label: `${kind}/${n}`, dir: path.join(shared, kind, n), spec: specOf(path.join(shared, kind, n)) })))
  : [];
const ownFixtures: Fixture[] = readdirSync(generated).filter((n) => existsSync(path.join(generated, n, "spec.yml"))).map((n) => ({ label: `generated pytorch/${n}`, dir: path.join(generated, n), spec: path.join(generated, n, "spec.yml") }));
// The PyTorch corpus' specs give no input_shape: predict takes --input's.
const corpus = path.join(repoRoot, "test/corpus/pytorch");
const corpusFixtures: Fixture[] = readdirSync(corpus).filter((n) => existsSync(path.join(corpus, n, "spec.yml"))).map((n) => ({ label: `corpus pytorch/${n}`, dir: path.join(corpus, n), spec: path.join(corpus, n, "spec.yml") }));
const fixtures = [...sharedFixtures, ...ownFixtures, ...corpusFixtures].filter((f) => existsSync(path.join(f.dir, "expected.npy")));

const out = mkdtempSync(path.join(tmpdir(), "cohort-model-cli-"));
const results = new Map<string, { error?: string; stdout?: string }>();
afterAll(() => rmSync(out, { recursive: true, force: true }));

function npy(file: string): { shape: number[]; data: Float64Array } {
  const a = readNpy(new Uint8Array(readFileSync(file)), file);
  return { shape: a.shape, data: Float64Array.from(a.data as ArrayLike<number>) };
}

describe("cohort model predict matches expected.npy for every fixture (built CLI, cpu backend)", () => {
  beforeAll(async () => {
    if (!existsSync(cli)) throw new Error(`${cli} is missing: run npm run build first`);
    // One process per fixture, four at a time: start-up (tfjs, h5wasm) dominates.
    const queue = [...fixtures];
    await Promise.all(Array.from({ length: 4 }, async () => {
      for (let f = queue.shift(); f; f = queue.shift()) {
        const output = path.join(out, `${f.label.replace(/\W/g, "_")}.npy`);
        try {
          const r = await run(process.execPath, [cli, "model", "predict", f.spec, "--input", path.join(f.dir, "input.npy"), "--output", output, "--backend", "cpu"], { cwd: repoRoot, timeout: 60_000 });
          results.set(f.label, { stdout: r.stdout });
        } catch (e) {
          results.set(f.label, { error: `${(e as Error).message}\n${(e as { stderr?: string }).stderr ?? ""}` });
        }
      }
    }));
  }, 120_000);

  if (!existsSync(shared)) it.skip(`shared fixtures: skipped, ${shared} is absent (they live only beside the repository)`, () => {});

  for (const f of fixtures) {
    it(f.label, () => {
      const r = results.get(f.label)!;
      expect(r.error).toBeUndefined();
      const actual = npy(path.join(out, `${f.label.replace(/\W/g, "_")}.npy`));
      const expected = npy(path.join(f.dir, "expected.npy"));
      expect(actual.shape).toEqual(expected.shape);
      let diff = 0, scale = 0;
      expected.data.forEach((e, i) => { diff = Math.max(diff, Math.abs(actual.data[i]! - e)); scale = Math.max(scale, Math.abs(e)); });
      console.log(`cohort model predict ${f.label}: max|a-e|/max|e| = ${(diff / scale).toExponential(2)}`);
      expect(diff).toBeLessThanOrEqual(TOLERANCE * scale);
    });
  }
});

describe("cohort model inspect", () => {
  it("reads a spec file: source, format, parameters, manifest and fingerprint", async () => {
    const { stdout } = await run(process.execPath, [cli, "model", "inspect", path.join(generated, "mnist_cnn", "spec.yml"), "--backend", "cpu", "--json"], { cwd: repoRoot });
    const info = JSON.parse(stdout);
    expect(info.source).toBe("PytorchFLModel");
    expect(info.format).toMatch(/PyTorch/);
    // conv 1->8 5x5, conv 8->16 5x5, linear 256->10
    expect(info.parameters.total).toBe(8 * 25 + 8 + 16 * 8 * 25 + 16 + 256 * 10 + 10);
    expect(info.manifest.length).toBe(6);
    expect(info.fingerprint).toMatch(/^[0-9a-f]{64}$/);
  });

  it("a PyTorch file whose layers fit several input shapes: an error listing them without --input-shape, the given shape with it", async () => {
    const spec = path.join(corpus, "conv32", "spec.yml");
    const err = await run(process.execPath, [cli, "model", "inspect", spec, "--backend", "cpu"], { cwd: repoRoot }).catch((e: { stderr: string; code: number }) => e);
    expect((err as { code: number }).code).toBe(2);
    expect((err as { stderr: string }).stderr).toMatch(/conv32\/model\.pt: the input shape is ambiguous: the layers fit \[1, 30, 30\], \[1, 31, 31\], \[1, 32, 32\], \[1, 33, 33\]; set input_shape in the model spec/);
    const { stdout } = await run(process.execPath, [cli, "model", "inspect", spec, "--backend", "cpu", "--input-shape", "1,32,32", "--json"], { cwd: repoRoot });
    const info = JSON.parse(stdout);
    expect(info.input).toEqual([[null, 1, 32, 32]]);
    expect(info.input_shape_from).toBe("--input-shape");
  });

  it("reads the model section of a party config, and names a bad key with the file", async () => {
    const { stdout } = await run(process.execPath, [cli, "model", "inspect", "examples/mnist/party0.yml", "--backend", "cpu"], { cwd: repoRoot });
    expect(stdout).toMatch(/source\s+TfjsModuleModel/);
    expect(stdout).toMatch(/parameters\s+\d+/);
    const err = await run(process.execPath, [cli, "model", "inspect", path.join(repoRoot, "package.json")], { cwd: repoRoot }).catch((e: { stderr: string; code: number }) => e);
    expect((err as { code: number }).code).toBe(2);
    expect((err as { stderr: string }).stderr).toMatch(/package\.json/);
  });
});
