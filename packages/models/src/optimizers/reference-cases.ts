/**
 * The optimizer reference cases (testdata/optimizers, written by gen.py from torch 2.13 and
 * Keras 3.15) as a suite that runs on one backend: reference.spec.ts on the cpu backend,
 * reference-tensorflow.spec.ts on the tensorflow backend, where the rules with a TensorFlow
 * training op run fused. tfjs holds one backend per process, hence two files. Not a spec itself.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { type NpyArray, readNpz } from "@cohort/tensors";
import { type BackendPreference, selectBackend } from "../backend.js";
import { compileFromOptions } from "../compile.js";
import { loadKeras3 } from "../keras/keras3.js";
import { compileTorchStyle } from "../pytorch/training.js";
import { loadTorchSequential } from "../pytorch/source.js";
import { torchStateDict } from "../pytorch/state-dict.js";
import { tf, type LayersModel } from "../tfjs.js";
import { kerasGeneration } from "./keras.js";
import type { RuleOptimizer } from "./rule-optimizer.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const dataDir = path.resolve(here, "../../testdata/optimizers");
const TOLERANCE = 1e-4;

interface Case { case: string; model: string; labels: "class" | "onehot" | "binary" | "real"; steps: number; [k: string]: unknown }
const casesOf = (framework: string) => (JSON.parse(readFileSync(path.join(dataDir, framework, "cases.json"), "utf8")) as { cases: Case[] }).cases;
const npzOf = (framework: string, name: string) => readNpz(new Uint8Array(readFileSync(path.join(dataDir, framework, `${name}.npz`))));

/** Largest |a - b| over the largest |b|: the error relative to the tensor's scale. */
export function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    diff = Math.max(diff, Math.abs(Number(actual[i]) - Number(expected[i])));
    scale = Math.max(scale, Math.abs(Number(expected[i])));
  }
  return diff / (scale || 1);
}

const toTensor = (a: NpyArray) => tf.tensor(Float32Array.from(a.data as ArrayLike<number>), a.shape, "float32");

const lossName = (model: LayersModel) => {
  const loss = (model as unknown as { loss: unknown }).loss;
  return typeof loss === "string" ? loss : (loss as { name: string }).name;
};

/** Runs the case's batches through trainOnBatch and returns the worst error after each step. */
async function replay(model: LayersModel, arrays: Map<string, NpyArray>, c: Case, weightsAfter: (step: number) => [string, ArrayLike<number>][], classes: number): Promise<number[]> {
  const worst: number[] = [];
  for (let s = 0; s < c.steps; s++) {
    const x = toTensor(arrays.get(`x${s}`)!);
    const yArr = arrays.get(`y${s}`)!;
    // As the party's learner does: class ids go one-hot to every "categorical" loss but tfjs' own sparse one.
    const y = c.labels === "class" && !/sparse/i.test(lossName(model))
      ? tf.oneHot(tf.tensor1d(Int32Array.from(yArr.data as ArrayLike<number>), "int32"), classes).toFloat()
      : toTensor(yArr);
    const out = await model.trainOnBatch(x, y);
    const loss = Array.isArray(out) ? out[0]! : out;
    tf.dispose([x, y]);
    const expectedLoss = Number((arrays.get(`loss${s}`)!.data as Float32Array)[0]);
    expect(Math.abs(Number(loss) - expectedLoss), `${c.case} step ${s + 1} loss ${loss} vs ${expectedLoss}`).toBeLessThan(TOLERANCE * Math.max(1, Math.abs(expectedLoss)));
    let max = 0;
    for (const [key, actual] of weightsAfter(s)) {
      const expected = arrays.get(`w${s}__${key}`);
      expect(expected, `${c.case}: reference has no tensor ${key}`).toBeDefined();
      const err = relativeError(actual, expected!.data as ArrayLike<number>);
      expect(err, `${c.case} step ${s + 1} tensor ${key}`).toBeLessThan(TOLERANCE);
      max = Math.max(max, err);
    }
    worst.push(max);
  }
  return worst;
}

/** The worst relative error per case, printed for the README's table. */
const report = (framework: string, name: string, worst: number[]) =>
  console.log(`${framework} ${name}: worst relative error over ${worst.length} steps ${Math.max(...worst).toExponential(1)}`);

export interface ReferenceSuiteOptions {
  backend: BackendPreference;
  /**
   * Called after each case with the TensorFlow ops its optimizer ran as (RuleOptimizer.fusedOps):
   * the tensorflow variant checks which rules took the fused path.
   */
  checkFused?: (framework: "torch" | "keras", name: string, ops: string[]) => void;
  /** Called after each case with whether its optimizer stepped in the rule's elementwise form (RuleOptimizer.runsElementwise). */
  checkElementwise?: (framework: "torch" | "keras", name: string, elementwise: boolean) => void;
}

const fusedOpsOf = (model: LayersModel) => (model.optimizer as unknown as RuleOptimizer).fusedOps;
const elementwiseOf = (model: LayersModel) => (model.optimizer as unknown as RuleOptimizer).runsElementwise();

/** Both frameworks' cases, step by step, on `backend`. */
export function describeReferenceCases({ backend, checkFused, checkElementwise }: ReferenceSuiteOptions): void {
  beforeAll(async () => {
    const selected = await selectBackend(backend);
    expect(selected.name).toBe(backend);
  });

  describe(`PyTorch optimizers and losses match torch.optim / torch.nn step by step (${backend} backend)`, () => {
    it.each(casesOf("torch").map((c) => [c.case, c] as const))("%s", async (_name, c) => {
      const model = loadTorchSequential(path.join(dataDir, "torch", c.model));
      compileTorchStyle(model, { optimizer: c.optimizer, loss_criterion: c.loss_criterion });
      const worst = await replay(model, npzOf("torch", c.case), c, () => torchStateDict(model).map((e) => [e.key, e.data as Float32Array]), 4);
      expect(worst).toHaveLength(c.steps);
      report(`torch (${backend})`, c.case, worst);
      checkFused?.("torch", c.case, fusedOpsOf(model));
      checkElementwise?.("torch", c.case, elementwiseOf(model));
    });

    it("Adadelta's first step is not a plain gradient step of size lr (TF.js' rule): it is about sqrt(eps / (1 - rho)) per element", async () => {
      const c = casesOf("torch").find((k) => k.case === "adadelta_ibmfl")!;
      const model = loadTorchSequential(path.join(dataDir, "torch", c.model));
      compileTorchStyle(model, { optimizer: "optim.Adadelta", loss_criterion: "nn.NLLLoss" });
      const before = torchStateDict(model).map((e) => Float32Array.from(e.data as Float32Array));
      const arrays = npzOf("torch", c.case);
      const x = toTensor(arrays.get("x0")!);
      const y = tf.oneHot(tf.tensor1d(Int32Array.from(arrays.get("y0")!.data as ArrayLike<number>), "int32"), 4).toFloat();
      await model.trainOnBatch(x, y);
      const after = torchStateDict(model).map((e) => e.data as Float32Array);
      const largest = Math.max(...after.flatMap((a, i) => Array.from(a, (v, j) => Math.abs(v - before[i]![j]!))));
      // lr * sqrt(eps) / sqrt((1 - rho) * g^2) * |g| = sqrt(1e-6 / 0.1) ~ 3.2e-3 for every element with a gradient.
      expect(largest).toBeGreaterThan(3.0e-3);
      expect(largest).toBeLessThan(3.3e-3);
    });
  });

  describe(`Keras optimizers and losses match Keras 3 step by step (${backend} backend)`, () => {
    it.each(casesOf("keras").map((c) => [c.case, c] as const))("%s", async (_name, c) => {
      const model = await loadKeras3(path.join(dataDir, "keras", c.model));
      if (c.case === "adadelta_keras2_defaults") {
        // A Keras 2.2.4 model compiled by name only: Keras 2's defaults (lr 1.0, rho 0.95) apply.
        compileFromOptions(model, { optimizer: "adadelta", loss: "categorical_crossentropy", kerasGeneration: kerasGeneration("2.2.4") });
      }
      const worst = await replay(model, npzOf("keras", c.case), c, () => model.getWeights().map((w, j) => [String(j), w.dataSync() as Float32Array]), 4);
      expect(worst).toHaveLength(c.steps);
      report(`keras (${backend})`, c.case, worst);
      checkFused?.("keras", c.case, fusedOpsOf(model));
      checkElementwise?.("keras", c.case, elementwiseOf(model));
    });

    it("picks Keras 2's defaults only for standalone Keras 2.0-2.3 files", () => {
      expect(kerasGeneration("2.2.4")).toBe("keras2");
      expect(kerasGeneration("2.1.6")).toBe("keras2");
      expect(kerasGeneration("2.2.4-tf")).toBe("keras3");
      expect(kerasGeneration("2.12.0")).toBe("keras3");
      expect(kerasGeneration("3.15.1")).toBe("keras3");
      expect(kerasGeneration(undefined)).toBe("keras3");
    });
  });
}
