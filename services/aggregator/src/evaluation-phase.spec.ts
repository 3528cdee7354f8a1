import { describe, expect, it } from "vitest";
import type { EvaluationReport } from "@cohort/wire";
import { Collector } from "./collector.js";
import { acceptEvaluation, evaluateOnOwnData } from "./evaluation-phase.js";
import { PartyRegistry } from "./registry.js";
import { ModelStore } from "./model-store.js";
import { capturingLogger } from "../../../test/helpers/federation.js";

const manifest = { tensors: [{ name: "w", dtype: "float32" as const, shape: [4] }] };

function storeAt(round: number, value: number): ModelStore {
  const store = new ModelStore();
  store.setManifest(manifest);
  store.topology = "{\"class_name\":\"Sequential\"}";
  store.put(round, new Uint8Array(new Float32Array(4).fill(value).buffer));
  return store;
}

describe("evaluateOnOwnData", () => {
  it("hands the evaluator the latest global model and logs and returns its numbers", async () => {
    const { log, lines } = capturingLogger("aggregator");
    const seen: unknown[] = [];
    const result = await evaluateOnOwnData(async (round, m, bytes, topology) => {
      seen.push(round, m, [...new Float32Array(bytes.buffer, bytes.byteOffset, 4)], topology);
      return { examples: 200, metrics: { accuracy: 0.75 } };
    }, storeAt(3, 0.5), log, 3);
    expect(result).toEqual({ examples: 200, accuracy: 0.75 });
    expect(seen).toEqual([3, manifest, [0.5, 0.5, 0.5, 0.5], "{\"class_name\":\"Sequential\"}"]);
    expect(lines).toContainEqual(expect.objectContaining({ round: 3, evaluator: "aggregator", examples: 200, accuracy: 0.75, msg: "global model evaluated on the aggregator's data" }));
  });

  it("turns a failing evaluator into a warning and no result, so the round goes on", async () => {
    const { log, lines } = capturingLogger("aggregator");
    const result = await evaluateOnOwnData(async () => { throw new Error("data handler npz: examples/datasets/mnist.npz not found"); }, storeAt(1, 0), log, 1);
    expect(result).toBeUndefined();
    expect(lines).toContainEqual(expect.objectContaining({ level: 40, evaluator: "aggregator", reason: "data handler npz: examples/datasets/mnist.npz not found" }));
  });
});

describe("acceptEvaluation", () => {
  const report = { round: 3, numExamples: 10, metrics: { accuracy: 0.5, loss: 1 } };
  function context() {
    const { log, lines } = capturingLogger("aggregator");
    const registry = new PartyRegistry();
    registry.join("a", 100, "cpu", 50);
    registry.join("b", 100, "cpu", 50);
    return { context: { registry, log, metrics: undefined, abort: new AbortController().signal, deadlineMs: 1_000 }, lines };
  }

  it("takes a report of the open evaluation and refuses one of another round or from a party not asked", () => {
    const { context: c } = context();
    const evaluation = new Collector<EvaluationReport>(3, ["a"], 1_000);
    expect(() => acceptEvaluation(c, undefined, "a", report, { negativeLoss: false })).toThrow(/evaluation of round 3 is not open/);
    expect(() => acceptEvaluation(c, evaluation, "a", { ...report, round: 2 }, { negativeLoss: false })).toThrow(/evaluation of round 2 is not open/);
    expect(() => acceptEvaluation(c, evaluation, "b", report, { negativeLoss: false })).toThrow(/b was not asked to evaluate round 3/);
    acceptEvaluation(c, evaluation, "a", report, { negativeLoss: false });
    expect(evaluation.hasAnswered("a")).toBe(true);
  });

  it("refuses a report over the declared test examples: logged with the party, no longer waited for", () => {
    const { context: c, lines } = context();
    const evaluation = new Collector<EvaluationReport>(3, ["a", "b"], 1_000);
    expect(() => acceptEvaluation(c, evaluation, "a", { ...report, numExamples: 51 }, { negativeLoss: false })).toThrow(/evaluation report refused: .*51/);
    expect(() => acceptEvaluation(c, evaluation, "b", { ...report, numExamples: 1.5 }, { negativeLoss: false })).toThrow(/num_examples must be a non-negative integer/);
    expect(evaluation.isExpected("a")).toBe(false);
    expect(lines.some((l) => l.party === "a" && l.phase === "evaluate")).toBe(true);
    evaluation.close("cancelled");
  });
});
