import { describe, expect, it } from "vitest";
import { Collector } from "./collector.js";
import { ModelStore } from "./model-store.js";
import { PartyRegistry } from "./registry.js";
import { evaluateRound } from "./round-evaluation.js";
import type { UpdateMeta } from "./round-metrics.js";
import type { FusedRound } from "./round-training.js";
import { RunOutput } from "./run-output.js";
import type { AggregatorSettings, GlobalEvaluator } from "./settings.js";
import type { TrainingPhase } from "./training-phase.js";
import { capturingLogger } from "../../../test/helpers/federation.js";
import { tempDir } from "../../../test/helpers/temp-dirs.js";

/** Round `round` of 4 fused from party a's update (a clipped, b refused), evaluated every 2 rounds; nobody is connected to evaluate. */
async function fusedRound(round: number, evaluateGlobal?: GlobalEvaluator) {
  const { log, lines } = capturingLogger("aggregator");
  const output = new RunOutput(await tempDir("cohort-round-eval-"));
  const store = new ModelStore();
  store.setManifest({ tensors: [{ name: "w", dtype: "float32", shape: [2] }] });
  store.put(round, new Uint8Array(8));
  const collector = new Collector<UpdateMeta>(round, ["a"], 1_000);
  collector.submit("a", { numExamples: 10, metrics: { loss: 0.5 }, trainSeconds: 1 });
  const phase = { round, bounds: { clipped: ["a"], refused: ["b"] } } as TrainingPhase;
  const fused: FusedRound = { updates: await collector.closed, report: { chosen: ["a"] }, trainMs: 5, fuseMs: 2, checkpointMs: 1 };
  const own: Record<string, number>[] = [];
  const context = {
    registry: new PartyRegistry(), log, metrics: undefined, abort: new AbortController().signal, deadlineMs: 1_000,
    settings: { rounds: 4, evaluateEvery: 2 } as AggregatorSettings, store, output, evaluateGlobal,
    open: () => undefined, ownEvaluated: (e: Record<string, number>) => { own.push(e); },
  };
  const metrics = await evaluateRound(context, phase, fused, Date.now() - 10, () => ({ in: 100, out: 200 }));
  store.close();
  return { metrics, lines, own, written: await output.readMetrics() };
}

describe("evaluateRound", () => {
  it("appends and logs the round's metrics line with the fusion report and what bounds did", async () => {
    const { metrics, lines, written } = await fusedRound(1);
    expect(metrics).toMatchObject({ round: 1, examples: 10, bytes_in: 100, bytes_out: 200, fusion: { chosen: ["a"], clipped: ["a"], refused: ["b"] } });
    expect(metrics.ms).toMatchObject({ train: 5, fuse: 2, checkpoint: 1 });
    expect(written).toEqual([metrics]);
    expect(lines.some((l) => l.phase === "round-done" && l.msg === "round 1/4 done")).toBe(true);
  });

  it("has the aggregator evaluate on its own data on evaluation rounds only, and hands its numbers on", async () => {
    const evaluator: GlobalEvaluator = async () => ({ examples: 7, metrics: { accuracy: 0.75 } });
    const skipped = await fusedRound(1, evaluator);
    expect(skipped.metrics.aggregator_eval).toBeUndefined();
    expect(skipped.own).toEqual([]);
    const evaluated = await fusedRound(2, evaluator);
    expect(evaluated.metrics.aggregator_eval).toEqual({ examples: 7, accuracy: 0.75 });
    expect(evaluated.own).toEqual([{ examples: 7, accuracy: 0.75 }]);
  });
});
