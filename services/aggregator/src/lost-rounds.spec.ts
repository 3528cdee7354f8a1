import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createLogger } from "@cohort/telemetry";
import type { Manifest } from "@cohort/tensors";
import { RECOVERED_EVALUATED, RECOVERED_NOT_EVALUATED, recoverLostRounds } from "./lost-rounds.js";
import { PartyRegistry } from "./registry.js";
import { type PendingRoundMetrics, RunOutput } from "./run-output.js";

const manifest: Manifest = { tensors: [{ name: "w", dtype: "float32", shape: [2] }] };
const dirs: string[] = [];
afterEach(async () => { for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true }); });

const pending = (round: number): PendingRoundMetrics => ({
  round, parties: ["p0"], missing: [], examples: 10 * round, train: { loss: 1 / round }, ms: { train: 5, fuse: 0, checkpoint: 0, eval: 0, round: 0 },
  bytes_in: 8, bytes_out: 8, by_party: { p0: { examples: 10 * round, train: { loss: 1 / round }, train_seconds: 0.1, eval: {} } },
});

describe("recoverLostRounds", () => {
  it("writes a line for every checkpointed round without one: the last evaluated now, earlier ones from their checkpoint", async () => {
    const dir = await mkdtemp(join(tmpdir(), "cohort-lost-"));
    dirs.push(dir);
    const output = new RunOutput(dir);
    for (const round of [1, 2, 3]) await output.writeCheckpointSlices(round, manifest, [new Uint8Array(8)], pending(round));
    await output.appendMetrics({ ...pending(1), eval: { accuracy: 0.5 } });
    // No party connected: the evaluation of round 3 closes at once with no reports.
    const context = { registry: new PartyRegistry(), log: createLogger({ service: "test", level: "silent" }), abort: new AbortController().signal, deadlineMs: 1000, output, open: () => undefined };
    const written = await recoverLostRounds(context, 3);
    expect(written.map((l) => [l.round, l.recovered])).toEqual([[2, RECOVERED_NOT_EVALUATED], [3, RECOVERED_EVALUATED]]);
    const lines = await output.readMetrics();
    expect(lines.map((l) => l.round)).toEqual([1, 2, 3]);
    expect(lines[1]).toMatchObject({ examples: 20, train: { loss: 0.5 }, eval: {}, parties: ["p0"] });
    // Run again (another restart): nothing is written twice.
    expect(await recoverLostRounds(context, 3)).toEqual([]);
  });
});
