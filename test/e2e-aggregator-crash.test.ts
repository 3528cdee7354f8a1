import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { freePort } from "./helpers/federation.js";
import { CohortProcess } from "./helpers/processes.js";

const processes: CohortProcess[] = [];
afterAll(async () => { await Promise.all(processes.map((p) => p.kill())); });

function start(args: string[]): CohortProcess {
  const p = new CohortProcess(args);
  processes.push(p);
  return p;
}

async function writeConfigs(rounds: number) {
    const dir = await mkdtemp(join(tmpdir(), "cohort-crash-"));
    const model = join(process.cwd(), "examples/mnist-tfjs/model.mjs");
    const port = await freePort();
    await writeFile(join(dir, "aggregator.yml"), [
      `connection: {info: {ip: 127.0.0.1, port: ${port}}}`,
      `hyperparams: {global: {rounds: ${rounds}, num_parties: 2, max_timeout: 60}, local: {training: {epochs: 1, batch_size: 32}}}`,
      "output_dir: run",
      "parties: [{name: p0, token: token-p0-123}, {name: p1, token: token-p1-123}]",
    ].join("\n"));
    for (const i of [0, 1]) {
      await writeFile(join(dir, `p${i}.yml`), [
        `aggregator: {ip: 127.0.0.1, port: ${port}}`, `party: {name: p${i}}`, `token: token-p${i}-123`,
        `data: {name: mnist, info: {party_index: ${i}, num_parties: 2, max_examples: 300}}`,
        `model: {name: TfjsModuleModel, spec: {model_definition: ${model}}}`,
        "reconnect: {initial_delay_ms: 100, max_delay_ms: 500}",
      ].join("\n"));
    }
  return { dir };
}

describe("the aggregator is killed (SIGKILL) and restarted with the same config", () => {
  it("resumes from its output directory: completed rounds are kept, none runs twice, parties reconnect by themselves", async () => {
    const { dir } = await writeConfigs(4);
    const aggregatorArgs = ["aggregator", "--config", join(dir, "aggregator.yml")];
    let aggregator = start(aggregatorArgs);
    const parties = [0, 1].map((i) => start(["party", "--config", join(dir, `p${i}.yml`)]));

    // Crash 1: between rounds, right after round 1 is recorded.
    await aggregator.waitFor((e) => e.phase === "round-done" && e.round === 1);
    await aggregator.kill("SIGKILL");
    aggregator = start(aggregatorArgs);
    await aggregator.waitFor((e) => e.phase === "resume");

    // Crash 2: in the middle of round 3, while the parties train.
    await aggregator.waitFor((e) => e.phase === "train" && e.msg === "round started" && e.round === 3);
    await aggregator.kill("SIGKILL");
    aggregator = start(aggregatorArgs);

    expect(await aggregator.exited).toBe(0);
    for (const p of parties) expect(await p.exited).toBe(0);
    const lines = (await readFile(join(dir, "run", "metrics.jsonl"), "utf8")).trim().split("\n").map((l) => JSON.parse(l));
    expect(lines.map((l) => l.round)).toEqual([1, 2, 3, 4]);
    const summary = JSON.parse(await readFile(join(dir, "run", "summary.json"), "utf8"));
    expect(summary.rounds_completed).toBe(4);
    expect(summary.final.accuracy).toBe(lines[3].eval.accuracy);
    const resumed = aggregator.events.find((e) => e.phase === "resume");
    expect(resumed?.round).toBe(2);
    expect(summary.exported.length).toBe(2);
  }, 240_000);

  it("SIGTERM abandons the round in progress, stops the parties, writes no summary; the same config then resumes", async () => {
    const { dir } = await writeConfigs(3);
    const aggregatorArgs = ["aggregator", "--config", join(dir, "aggregator.yml")];
    const partyArgs = (i: number) => ["party", "--config", join(dir, `p${i}.yml`)];
    let aggregator = start(aggregatorArgs);
    let parties = [0, 1].map((i) => start(partyArgs(i)));
    await aggregator.waitFor((e) => e.phase === "train" && e.msg === "round started" && e.round === 2);
    aggregator.child.kill("SIGTERM");
    expect(await aggregator.exited).toBe(0);
    for (const p of parties) expect(await p.exited).toBe(0);
    expect(aggregator.events.some((e) => e.phase === "stopped" && e.round === 1)).toBe(true);
    await expect(readFile(join(dir, "run", "summary.json"))).rejects.toThrow();

    aggregator = start(aggregatorArgs);
    parties = [0, 1].map((i) => start(partyArgs(i)));
    expect(await aggregator.exited).toBe(0);
    const lines = (await readFile(join(dir, "run", "metrics.jsonl"), "utf8")).trim().split("\n").map((l) => JSON.parse(l));
    expect(lines.map((l) => l.round)).toEqual([1, 2, 3]);
    expect(JSON.parse(await readFile(join(dir, "run", "summary.json"), "utf8")).rounds_completed).toBe(3);
  }, 240_000);
});
