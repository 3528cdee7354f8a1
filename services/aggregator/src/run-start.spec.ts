import { EventEmitter } from "node:events";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ModelStore } from "./model-store.js";
import { PartyRegistry } from "./registry.js";
import { RunOutput } from "./run-output.js";
import { startRun } from "./run-start.js";
import type { AggregatorSettings } from "./settings.js";
import { capturingLogger } from "../../../test/helpers/federation.js";
import { tempDir } from "../../../test/helpers/temp-dirs.js";

/** A run of `numParties` expected parties, `connected` of them with an open instruction stream (an emitter that takes writes). */
async function run(numParties: number, connected: string[], abort = new AbortController()) {
  const { log, lines } = capturingLogger("aggregator");
  const dir = await tempDir("cohort-run-start-");
  const registry = new PartyRegistry();
  for (const party of connected) {
    registry.join(party, 10, "cpu");
    registry.attach(party, Object.assign(new EventEmitter(), { cancelled: false, write: () => true, end: () => undefined }) as never);
  }
  const store = new ModelStore();
  const settings = { numParties, maxTimeoutMs: 50, algorithm: "fedavg" } as AggregatorSettings;
  const context = { registry, log, metrics: undefined, abort: abort.signal, deadlineMs: 50, settings, store, output: new RunOutput(dir), open: () => undefined };
  return { context, store, lines, dir };
}

describe("startRun", () => {
  it("serves an initial model handed over in memory from checkpoint 0 and writes its topology", async () => {
    const { context, store, dir } = await run(1, ["a"]);
    store.setManifest({ tensors: [{ name: "w", dtype: "float32", shape: [2] }] });
    store.topology = "{\"class_name\":\"Sequential\"}";
    store.put(0, new Uint8Array(new Float32Array([1, 2]).buffer));
    expect(await startRun(context, undefined, 1, Date.now())).toEqual({ lastAccuracy: null, lastLoss: null });
    expect(store.latest?.path).toBeDefined();
    expect(await readFile(join(dir, "topology.json"), "utf8")).toContain("Sequential");
    store.close();
  });

  it("fails a start that too few parties joined, naming those that did", async () => {
    const { context } = await run(3, ["a"]);
    await expect(startRun(context, undefined, 2, Date.now())).rejects.toThrow("only 1 of 3 parties joined within 0.05 s (quorum 2): a");
  });

  it("a stop requested while waiting ends the run without a failure, after the rounds it had", async () => {
    const abort = new AbortController();
    abort.abort();
    const { context, lines } = await run(3, [], abort);
    const start = await startRun(context, 2, 2, Date.now());
    expect(start).toMatchObject({ stopped: { rounds_completed: 2, stopped_because: "stopped by signal", parties: [] } });
    expect(lines.some((l) => l.phase === "stopped" && String(l.msg).includes("0 of 3 had joined"))).toBe(true);
  });
});
