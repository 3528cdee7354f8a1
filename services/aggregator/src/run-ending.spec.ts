import { EventEmitter } from "node:events";
import { describe, expect, it } from "vitest";
import type { Instruction } from "@cohort/wire";
import { PartyAuthenticator } from "./auth.js";
import { ModelStore } from "./model-store.js";
import { PartyRegistry } from "./registry.js";
import { type RunEnd, endRun } from "./run-ending.js";
import { RunOutput } from "./run-output.js";
import type { AggregatorSettings } from "./settings.js";
import { capturingLogger } from "../../../test/helpers/federation.js";
import { tempDir } from "../../../test/helpers/temp-dirs.js";

/** Parties c, a (allow-list order) and b joined in the order b, a; a and b hold an instruction stream (stood in by an emitter that takes writes). */
async function ending() {
  const dir = await tempDir("cohort-run-ending-");
  const parties = [{ name: "c", token: "t".repeat(32) }, { name: "a", token: "u".repeat(32) }, { name: "b", token: "v".repeat(32) }];
  const settings = { outputDir: dir, algorithm: "fedavg", parties } as unknown as AggregatorSettings;
  const registry = new PartyRegistry();
  const sent: string[] = [];
  for (const party of ["b", "a"]) {
    registry.join(party, 10, "cpu");
    const stream = Object.assign(new EventEmitter(), { cancelled: false, write: (i: Instruction) => { if (i.kind === "stop") sent.push(`${party}:${i.stop.reason}`); return true; }, end: () => undefined });
    registry.attach(party, stream as never);
  }
  const store = new ModelStore();
  store.setManifest({ tensors: [{ name: "w", dtype: "float32", shape: [2] }] });
  store.put(3, new Uint8Array(new Float32Array([1, 2]).buffer));
  const output = new RunOutput(dir);
  const exports: number[][] = [];
  const { log } = capturingLogger("aggregator");
  const context = {
    settings, log, metrics: undefined, registry, store, output, auth: new PartyAuthenticator(parties, false),
    exportModel: async (_dir: string, _m: unknown, bytes: Uint8Array) => { exports.push([...new Float32Array(bytes.slice().buffer)]); return ["model.json"]; },
  };
  return { context, output, sent, exports };
}

const end: RunEnd = { started: Date.now(), completed: 3, lastAccuracy: 0.9, lastLoss: 0.2, stoppedBecause: "all rounds completed", failedRound: undefined, interrupted: false, aggregatorEval: { examples: 5, accuracy: 0.8 } };

describe("endRun", () => {
  it("stops the parties, exports the final model and writes the summary (parties in allow-list order)", async () => {
    const { context, output, sent, exports } = await ending();
    const summary = await endRun(context, end);
    expect(sent.sort()).toEqual(["a:all rounds completed", "b:all rounds completed"]);
    expect(exports).toEqual([[1, 2]]);
    expect(summary).toMatchObject({ rounds_completed: 3, final: { accuracy: 0.9, loss: 0.2 }, parties: ["a", "b"], exported: ["model.json"], aggregator_eval: { examples: 5, accuracy: 0.8 } });
    expect(await output.hasSummary()).toBe(true);
    context.store.close();
  });

  it("leaves an interrupted run resumable: no summary, no export, the failed round named", async () => {
    const { context, output, sent, exports } = await ending();
    const summary = await endRun(context, { ...end, completed: 2, stoppedBecause: "round 3 failed: a fold failed part way", failedRound: 3, interrupted: true });
    expect(sent).toHaveLength(2);
    expect(exports).toEqual([]);
    expect(summary).toMatchObject({ rounds_completed: 2, failed_round: 3, parties: [], exported: [] });
    expect(await output.hasSummary()).toBe(false);
    context.store.close();
  });
});
