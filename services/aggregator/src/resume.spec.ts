import { readFile, writeFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { createLogger } from "@cohort/telemetry";
import { createStrategy } from "@cohort/fusion";
import { ModelStore } from "./model-store.js";
import { findResumePoint, resumeRun } from "./resume.js";
import { RunOutput, strategyStatePath } from "./run-output.js";
import { tempDir } from "../../../test/helpers/temp-dirs.js";

const manifest = { tensors: [{ name: "w", dtype: "float32" as const, shape: [4] }] };
const log = createLogger({ service: "test", level: "silent" });

async function runWithCheckpoints(rounds: number) {
  const dir = await tempDir("cohort-resume-");
  const output = new RunOutput(dir);
  const { createHash } = await import("node:crypto");
  for (let r = 0; r <= rounds; r++) {
    const bytes = new Uint8Array(new Float32Array(4).fill(r).buffer);
    await output.writeCheckpoint(r, manifest, bytes, createHash("sha256").update(bytes).digest("hex"));
  }
  return { dir, output };
}

describe("findResumePoint", () => {
  it("returns the newest checkpoint with its weights", async () => {
    const { dir } = await runWithCheckpoints(3);
    const point = await findResumePoint(dir, log);
    expect(point?.round).toBe(3);
    const bytes = await readFile(point!.path);
    expect(point!.size).toBe(16);
    expect(Array.from(new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)))).toEqual([3, 3, 3, 3]);
  });

  it("falls back to the previous checkpoint when the newest is corrupt or truncated", async () => {
    const { dir, output } = await runWithCheckpoints(3);
    await writeFile(output.checkpointPath(3), new Uint8Array(new Float32Array(4).fill(9).buffer));
    expect((await findResumePoint(dir, log))?.round).toBe(2);
    await writeFile(output.checkpointPath(2), new Uint8Array(3));
    expect((await findResumePoint(dir, log))?.round).toBe(1);
  });

  it("reads the strategy state written with a checkpoint, and falls back a round when that state is damaged", async () => {
    const { dir, output } = await runWithCheckpoints(1);
    const stateOf = (r: number) => ({ strategy: "fedavgm", arrays: [{ name: "m", values: new Float64Array(4).fill(r / 10) }] });
    for (const r of [2, 3]) {
      const bytes = new Uint8Array(new Float32Array(4).fill(r).buffer);
      await output.writeCheckpointSlices(r, manifest, [bytes], undefined, () => stateOf(r));
    }
    const point = await findResumePoint(dir, log);
    expect(point?.round).toBe(3);
    expect(Array.from(point!.strategyState!.arrays[0].values)).toEqual([0.3, 0.3, 0.3, 0.3]);
    await writeFile(strategyStatePath(output.checkpointPath(3)), new Uint8Array(32));
    const previous = await findResumePoint(dir, log);
    expect(previous?.round).toBe(2);
    expect(Array.from(previous!.strategyState!.arrays[0].values)).toEqual([0.2, 0.2, 0.2, 0.2]);
  });

  it("finds nothing in a fresh directory", async () => {
    const dir = await tempDir("cohort-resume-");
    expect(await findResumePoint(dir, log)).toBeUndefined();
  });
});

describe("resumeRun", () => {
  it("takes the newest checkpoint's model and round into the store; a fresh directory resumes nothing", async () => {
    const { dir, output } = await runWithCheckpoints(2);
    const store = new ModelStore();
    expect(await resumeRun(output, dir, store, createStrategy({ name: "fedavg" }), log)).toBe(2);
    expect(store.latest?.round).toBe(2);
    expect(store.manifest).toEqual(manifest);
    store.close();
    const fresh = await tempDir("cohort-resume-");
    expect(await resumeRun(new RunOutput(fresh), fresh, new ModelStore(), createStrategy({ name: "fedavg" }), log)).toBeUndefined();
  });

  it("refuses a finished run and another model's checkpoints, naming the output directory", async () => {
    const { dir, output } = await runWithCheckpoints(1);
    const other = new ModelStore();
    other.setManifest({ tensors: [{ name: "w", dtype: "float32", shape: [5] }] });
    await expect(resumeRun(output, dir, other, createStrategy({ name: "fedavg" }), log)).rejects.toThrow(/checkpoints are of another model than the config's/);
    await output.writeSummary({ rounds_completed: 1, final: { accuracy: null, loss: null }, parties: [], wall_seconds: 0, stopped_because: "all rounds completed", fusion: "fedavg", exported: [] });
    await expect(resumeRun(output, dir, new ModelStore(), createStrategy({ name: "fedavg" }), log)).rejects.toThrow(new RegExp(`${dir}.*holds a finished run`));
  });
});
