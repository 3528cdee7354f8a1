import { afterEach, describe, expect, it } from "vitest";
import { UpdateStaging, WeightedSum, createStrategy } from "@cohort/fusion";
import { MASKED_UPDATE_ENCODING } from "@cohort/secagg";
import type { Manifest } from "@cohort/tensors";
import type { UpdateHeader } from "@cohort/wire";
import { Collector } from "./collector.js";
import { RoundDeadlines, resolveDeadlines } from "./deadlines.js";
import { ModelStore } from "./model-store.js";
import { PartyRegistry } from "./registry.js";
import type { UpdateMeta } from "./round-metrics.js";
import type { AggregatorSettings } from "./settings.js";
import type { TrainingPhase } from "./training-phase.js";
import { TrainingUploads } from "./training-uploads.js";
import { capturingLogger } from "../../../test/helpers/federation.js";
import { tempDir } from "../../../test/helpers/temp-dirs.js";

const manifest: Manifest = { tensors: [{ name: "w", dtype: "float32", shape: [4] }] };
const header: UpdateHeader = { round: 2, numExamples: 50, metrics: { loss: 0.5 }, trainSeconds: 1 };
const open: TrainingPhase[] = [];

/** Round 2 open for parties a and b (100 training examples each), base model (round 1) all zeros. */
function round2(settings: Partial<AggregatorSettings> = {}) {
  const { log, lines } = capturingLogger("aggregator");
  const registry = new PartyRegistry();
  registry.join("a", 100, "cpu");
  registry.join("b", 100, "cpu");
  const store = new ModelStore();
  store.setManifest(manifest);
  store.put(1, new Uint8Array(16));
  const uploads = new TrainingUploads({ settings: settings as AggregatorSettings, strategy: createStrategy({ name: "fedavg" }), log, metrics: undefined, registry, store, abort: new AbortController().signal, metricBounds: { negativeLoss: false } });
  const collector = new Collector<UpdateMeta>(2, ["a", "b"], 10_000);
  const deadlines = new RoundDeadlines(2, ["a", "b"], resolveDeadlines(10_000), 10_000, (party) => { collector.drop(party); return true; });
  const phase: TrainingPhase = {
    round: 2, collector, deadlines, sum: new WeightedSum(manifest), staged: [], bounds: { clipped: [], refused: [] },
    folds: Promise.resolve(), receiveHolds: new Map(), trainingFailures: new Map(),
  };
  open.push(phase);
  return { uploads, phase, lines };
}

/** `values` staged as a real staged update (memory). */
async function staged(values: number[]) {
  const writer = await new UpdateStaging({ dir: await tempDir("cohort-uploads-"), memoryBudgetBytes: 1 << 20 }).begin(values.length * 4);
  await writer.write(new Uint8Array(new Float32Array(values).buffer));
  return writer.commit();
}

afterEach(() => {
  for (const phase of open.splice(0)) {
    phase.deadlines.close();
    phase.collector.close("cancelled");
  }
});

describe("TrainingUploads.admitUpload", () => {
  it("refuses an update for a round that is not open, from a non-participant, or masked in a plain round, saying which", () => {
    const { uploads, phase } = round2();
    expect(() => uploads.admitUpload(phase, 2, "a", { ...header, round: 3 })).toThrow(/round 3 is not open for updates \(current round 2\)/);
    expect(() => uploads.admitUpload(undefined, 2, "a", header)).toThrow(/round 2 is not open for updates/);
    expect(() => uploads.admitUpload(phase, 2, "c", header)).toThrow(/c is not a participant of round 2/);
    expect(() => uploads.admitUpload(phase, 2, "a", { ...header, encoding: MASKED_UPDATE_ENCODING })).toThrow(/round 2 is not a secure round/);
    const transfer = uploads.admitUpload(phase, 2, "a", header);
    expect(transfer?.signal.aborted).toBe(false);
    transfer?.done();
  });

  it("refuses an update that claims more examples than declared at join: logged, listed as refused, no longer waited for", () => {
    const { uploads, phase, lines } = round2();
    expect(() => uploads.admitUpload(phase, 2, "a", { ...header, numExamples: 101 })).toThrow(/update refused: num_examples 101 exceeds the 100 training examples declared at join/);
    expect(phase.bounds.refused).toEqual(["a"]);
    expect(phase.collector.isExpected("a")).toBe(false);
    expect(lines.some((l) => l.party === "a" && l.phase === "upload" && String(l.msg).includes("refused"))).toBe(true);
  });
});

describe("TrainingUploads.acceptUpload", () => {
  it("clips an update over max_update_norm to the bound and folds it", async () => {
    const { uploads, phase } = round2({ maxUpdateNorm: 1 });
    await uploads.acceptUpload(phase, "a", header, await staged([3, 4, 0, 0]));
    expect(phase.bounds.clipped).toEqual(["a"]);
    expect(phase.collector.hasAnswered("a")).toBe(true);
    expect(phase.sum!.count).toBe(1);
  });

  it("refuses an update over max_update_norm under update_norm_action refuse, naming its norm", async () => {
    const { uploads, phase } = round2({ maxUpdateNorm: 1, updateNormAction: "refuse" });
    await expect(uploads.acceptUpload(phase, "a", header, await staged([3, 4, 0, 0]))).rejects.toThrow(/its norm 5.000 exceeds max_update_norm 1/);
    expect(phase.bounds.refused).toEqual(["a"]);
    expect(phase.sum!.count).toBe(0);
  });

  it("keeps an update staged until the round closes when the strategy reads them all at once (no sum)", async () => {
    const { uploads, phase } = round2();
    phase.sum = undefined;
    await uploads.acceptUpload(phase, "b", header, await staged([1, 1, 1, 1]));
    expect(phase.staged.map((u) => [u.party, u.numExamples])).toEqual([["b", 50]]);
    expect(await phase.staged[0]!.staged.read(0, 4)).toEqual(new Uint8Array(new Float32Array([1]).buffer));
  });
});

describe("TrainingUploads: failures, rejections and downloads", () => {
  it("drops a party whose local training failed, with its reason cut to 1000 characters", () => {
    const { uploads, phase } = round2();
    expect(() => uploads.acceptTrainingFailure(phase, 2, "a", { round: 3, reason: "x" })).toThrow(/round 3 is not in training \(current round 2\)/);
    uploads.acceptTrainingFailure(phase, 2, "a", { round: 2, reason: "y".repeat(5000) });
    expect(phase.trainingFailures.get("a")).toHaveLength(1000);
    expect(phase.collector.isExpected("a")).toBe(false);
  });

  it("stops waiting for a party whose update failed verification, but not for round 0 or another round", () => {
    const { uploads, phase } = round2();
    uploads.rejectUpload(phase, "a", 0, "bad crc");
    uploads.rejectUpload(phase, "a", 1, "bad crc");
    expect(phase.collector.isExpected("a")).toBe(true);
    uploads.rejectUpload(phase, "a", 2, "bad crc");
    expect(phase.collector.isExpected("a")).toBe(false);
  });

  it("bounds a participant's download of the round's base model only", () => {
    const { uploads, phase } = round2();
    expect(uploads.boundDownload(phase, "a", 0)).toBeUndefined();
    expect(uploads.boundDownload(phase, "c", 1)).toBeUndefined();
    const transfer = uploads.boundDownload(phase, "a", 1);
    expect(transfer?.signal.aborted).toBe(false);
    transfer?.done();
  });
});
