import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { type LocalLearner, Party, type TrainSettings } from "@cohort/party";
import type { Manifest, WeightSet } from "@cohort/tensors";
import { freePort, testLogger } from "./helpers/federation.js";
import { needlesInFiles, needlesInProcessMemory } from "./helpers/process-memory.js";
import { ProcessGroup } from "./helpers/processes.js";
import { tempDir } from "./helpers/temp-dirs.js";

const manifest: Manifest = { tensors: [{ name: "w", dtype: "float32", shape: [64, 32] }, { name: "b", dtype: "float32", shape: [32] }] };
const ELEMENTS = 64 * 32 + 32;
const group = new ProcessGroup();
afterAll(() => group.killAll());

/**
 * Trains by adding a party-specific, non-repeating pattern to every weight, and keeps what it
 * uploaded (in the clear or before masking): the bytes the aggregator must never hold.
 */
class PatternLearner implements LocalLearner {
  readonly backend = "pattern";
  readonly numTestExamples = 10;
  private weights: Float32Array[];
  readonly trained: Float32Array[] = [];
  readonly deltas: Float32Array[] = [];
  constructor(readonly manifest: Manifest, readonly numTrainExamples: number, private readonly seed: number, private readonly delayMs: (round: number) => number) {
    this.weights = manifest.tensors.map((t) => new Float32Array(t.shape.reduce((a, b) => a * b, 1)).fill(0.5));
  }
  getWeights(): WeightSet {
    return this.manifest.tensors.map((t, i) => ({ ...t, data: this.weights[i].slice() }));
  }
  setWeights(weights: WeightSet): void {
    this.weights = weights.map((t) => (t.data as Float32Array).slice());
  }
  async train(_settings: TrainSettings) {
    await new Promise((r) => setTimeout(r, this.delayMs(this.trained.length + 1)));
    const before = Float32Array.from(this.weights.flatMap((w) => [...w]));
    let k = 0;
    for (const w of this.weights) for (let j = 0; j < w.length; j++, k++) w[j] += 0.01 * Math.sin(k * 0.731 + this.seed * 1.37) + 0.003 * this.seed;
    const after = Float32Array.from(this.weights.flatMap((w) => [...w]));
    this.trained.push(after);
    this.deltas.push(after.map((v, j) => v - before[j]));
    return { numExamples: this.numTrainExamples, metrics: { loss: 0.5 }, seconds: 0 };
  }
  async evaluate() {
    return { numExamples: 10, metrics: { loss: 0 } };
  }
}

/** 32-byte windows of a vector's float32 bytes at two places: each occurs nowhere else by chance. */
function windows(values: Float32Array): Buffer[] {
  const bytes = Buffer.from(values.buffer, values.byteOffset, values.byteLength);
  return [777, ELEMENTS - 40].map((at) => Buffer.from(bytes.subarray(at * 4, at * 4 + 32)));
}

/**
 * Runs a 3-party federation against an aggregator process, and while that process waits in round
 * 2 (the parties train slowly) reads all of its writable memory for the parties' round-1 uploads.
 */
async function inspect(secure: boolean) {
  const dir = await tempDir("cohort-secagg-privacy-");
  const port = await freePort();
  await writeFile(join(dir, "aggregator.yml"), [
    `connection: {info: {ip: 127.0.0.1, port: ${port}}}`,
    `hyperparams: {global: {rounds: 2, num_parties: 3, max_timeout: 60${secure ? ", secure_aggregation: {threshold: 2}" : ""}}}`,
    "output_dir: run",
    "parties: [{name: p0, token: token-p0-123}, {name: p1, token: token-p1-123}, {name: p2, token: token-p2-123}]",
  ].join("\n"));
  const aggregator = group.start(["aggregator", "--config", join(dir, "aggregator.yml")], { LOG_LEVEL: "debug" });
  await aggregator.waitFor((e) => e.phase === "listen");
  const learners = [0, 1, 2].map((i) => new PatternLearner(manifest, 100 * (i + 1), i + 1, (round) => (round === 2 ? 2500 : 0)));
  const parties = learners.map((learner, i) => new Party({ name: `p${i}`, token: `token-p${i}-123`, host: "127.0.0.1", port }, learner, testLogger(`p${i}`)));
  const runs = parties.map((p) => p.run().catch(() => "failed"));
  await aggregator.waitFor((e) => e.phase === "round-done" && e.round === 1, 30_000);
  const needles = learners.flatMap((l) => [...windows(l.trained[0]), ...windows(l.deltas[0])]);
  const memory = needlesInProcessMemory(aggregator.child.pid!, needles);
  await Promise.all(runs);
  parties.forEach((p) => p.close());
  expect(await aggregator.exited).toBe(0);
  const files = await needlesInFiles(join(dir, "run"), needles);
  // Logs: the raw JSON lines, searched for the uploads' values as text (6 significant digits).
  const logText = JSON.stringify(aggregator.events) + aggregator.stderr;
  const loggedValues = learners.flatMap((l) => [100, 777, 1500].map((j) => l.trained[0][j].toPrecision(6))).filter((v) => logText.includes(v));
  return { memory, files, loggedValues, needles: needles.length, events: aggregator.events };
}

describe.skipIf(process.platform !== "linux")("what the aggregator holds during a secure round", () => {
  it("control: without secure aggregation, the scan finds the parties' updates in the aggregator's memory", async () => {
    const { memory } = await inspect(false);
    // Proves the scan sees where updates live (staging, the fold's WebAssembly memory).
    expect(memory.found.size).toBeGreaterThan(0);
  }, 60_000);

  it("with secure aggregation, no party's update or change is in the aggregator's memory, its files or its logs", async () => {
    const { memory, files, loggedValues, events } = await inspect(true);
    expect(events.some((e) => e.phase === "secagg-unmask" && e.msg === "secure round: sum unmasked")).toBe(true);
    expect(memory.bytesScanned).toBeGreaterThan(10 * 1024 * 1024);
    expect([...memory.found]).toEqual([]);
    expect(files.files).toBeGreaterThan(2);
    expect([...files.found]).toEqual([]);
    expect(loggedValues).toEqual([]);
  }, 60_000);
});
