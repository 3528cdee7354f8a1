import { EventEmitter } from "node:events";
import { afterEach, describe, expect, it } from "vitest";
import { UpdateStaging, createStrategy } from "@cohort/fusion";
import type { Manifest } from "@cohort/tensors";
import type { Instruction } from "@cohort/wire";
import { resolveDeadlines } from "./deadlines.js";
import { ModelStore } from "./model-store.js";
import { PartyRegistry } from "./registry.js";
import { RoundAccumulator } from "./round-accumulator.js";
import { roundMetrics } from "./round-metrics.js";
import { NO_REPORTS, RoundTraining } from "./round-training.js";
import { RunOutput } from "./run-output.js";
import { SecureRoundDriver } from "./secure-round-driver.js";
import type { AggregatorSettings } from "./settings.js";
import type { TrainingPhase } from "./training-phase.js";
import { TrainingUploads } from "./training-uploads.js";
import { capturingLogger } from "../../../test/helpers/federation.js";
import { tempDir } from "../../../test/helpers/temp-dirs.js";

const manifest: Manifest = { tensors: [{ name: "w", dtype: "float32", shape: [4] }] };
const settings = { maxTimeoutMs: 5_000, local: { epochs: 1, batchSize: 8, validationSplit: 0 } } as unknown as AggregatorSettings;
const stores: ModelStore[] = [];

/**
 * A round trainer over real parts (collector, deadlines, staging, run output) for parties a and
 * b (200 examples each), base model (round 1) all zeros. `onInstruction` is each party's end of
 * its instruction stream (grpc-js' stream stood in by an emitter that takes writes).
 */
async function trainer(fusion: "fedavg" | "coordinate-median", onInstruction: (party: string, instruction: Instruction) => void = () => undefined) {
  const { log } = capturingLogger("aggregator");
  const dir = await tempDir("cohort-round-training-");
  const registry = new PartyRegistry();
  for (const party of ["a", "b"]) {
    registry.join(party, 200, "cpu");
    const stream = Object.assign(new EventEmitter(), { cancelled: false, write: (instruction: Instruction) => { setImmediate(() => onInstruction(party, instruction)); return true; }, end: () => undefined });
    registry.attach(party, stream as never);
  }
  const store = new ModelStore();
  stores.push(store);
  store.setManifest(manifest);
  store.put(1, new Uint8Array(16));
  const staging = new UpdateStaging({ dir, memoryBudgetBytes: 1 << 20 });
  const strategy = createStrategy({ name: fusion });
  const abort = new AbortController().signal;
  const accumulator = new RoundAccumulator(store, staging);
  const parts = { settings, strategy, log, metrics: undefined, registry, store, abort };
  const secure = new SecureRoundDriver({ ...parts, accumulator });
  const rounds = new RoundTraining({ ...parts, staging, output: new RunOutput(dir), deadlines: resolveDeadlines(5_000), chunkSize: 65536, accumulator, secure });
  const uploads = new TrainingUploads({ ...parts, metricBounds: { negativeLoss: false } });
  return { rounds, uploads, staging, store };
}

async function upload(uploads: TrainingUploads, staging: UpdateStaging, phase: TrainingPhase, party: string, value: number, numExamples: number) {
  const header = { round: phase.round, numExamples, metrics: { loss: 1 }, trainSeconds: 1 };
  uploads.admitUpload(phase, phase.round, party, header)?.done();
  const writer = await staging.begin(16);
  await writer.write(new Uint8Array(new Float32Array(4).fill(value).buffer));
  await uploads.acceptUpload(phase, party, header, await writer.commit());
}

const pending = (round: number) => (updates: Parameters<typeof roundMetrics>[1], trainMs: number) =>
  roundMetrics(round, updates, NO_REPORTS, { train: trainMs, fuse: 0, checkpoint: 0, eval: 0, round: 0 }, { in: 0, out: 0 });

afterEach(() => {
  for (const store of stores.splice(0)) store.close();
});

describe("RoundTraining.open", () => {
  it("holds each participant's receive buffers against staging's budget; a stream strategy gets the run's sum, a staged one none", async () => {
    const { rounds, staging } = await trainer("fedavg");
    const phase = rounds.open(2, ["a", "b"], undefined);
    expect(phase.receiveHolds.size).toBe(2);
    expect(staging.heldBytes).toBeGreaterThan(0);
    expect(phase.sum).toBeDefined();
    phase.collector.close("cancelled");
    phase.deadlines.close();
    for (const release of phase.receiveHolds.values()) release();
    expect(staging.heldBytes).toBe(0);
    const median = (await trainer("coordinate-median")).rounds.open(2, ["a", "b"], undefined);
    expect(median.sum).toBeUndefined();
    median.collector.close("cancelled");
    median.deadlines.close();
  });
});

describe("RoundTraining.trainAndFuse", () => {
  it("sends the train instruction, fuses the updates that arrive (FedAvg) and checkpoints the new model", async () => {
    const sent: string[] = [];
    let uploadAs: (party: string) => Promise<void> = async () => undefined;
    const { rounds, uploads, staging, store } = await trainer("fedavg", (party, instruction) => {
      sent.push(`${party}:${instruction.kind}`);
      if (instruction.kind === "train") void uploadAs(party);
    });
    const phase = rounds.open(2, ["a", "b"], undefined);
    uploadAs = (party) => upload(uploads, staging, phase, party, party === "a" ? 1 : 3, party === "a" ? 50 : 150);
    const fused = await rounds.trainAndFuse(phase, ["a", "b"], 2, Date.now(), pending(2));
    expect(sent).toEqual(["a:train", "b:train"]);
    if ("failed" in fused) throw new Error(fused.failed);
    expect([...fused.updates.results.keys()].sort()).toEqual(["a", "b"]);
    // (1 * 50 + 3 * 150) / 200
    expect([...new Float32Array(store.read(2, 0, 16).slice().buffer)]).toEqual([2.5, 2.5, 2.5, 2.5]);
    await rounds.release(phase);
  });

  it("fails the round below quorum, naming the parties whose local training failed", async () => {
    const { rounds, uploads, store } = await trainer("fedavg", (party, instruction) => {
      if (instruction.kind === "train") uploads.acceptTrainingFailure(phase, 2, party, { round: 2, reason: `${party}'s loss refuses its labels` });
    });
    const phase = rounds.open(2, ["a", "b"], undefined);
    const fused = await rounds.trainAndFuse(phase, ["a", "b"], 1, Date.now(), pending(2));
    expect(fused).toEqual({ failed: "fewer than 1 updates (a's local training failed: a's loss refuses its labels; b's local training failed: b's loss refuses its labels)", resumable: false });
    // No checkpoint for a failed round: the store still ends at the round's base.
    expect(store.latest?.round).toBe(1);
  });
});
