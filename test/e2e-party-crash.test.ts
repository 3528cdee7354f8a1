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

describe("a party is killed (SIGKILL) during a round and restarted", () => {
  it("the round closes on quorum without it, and the restarted party rejoins under its identity for a later round", async () => {
    const dir = await mkdtemp(join(tmpdir(), "cohort-party-crash-"));
    const model = join(process.cwd(), "examples/mnist-tfjs/model.mjs");
    const port = await freePort();
    await writeFile(join(dir, "aggregator.yml"), [
      `connection: {info: {ip: 127.0.0.1, port: ${port}}}`,
      "hyperparams: {global: {rounds: 6, num_parties: 2, perc_quorum: 0.5, max_timeout: 60}, local: {training: {epochs: 2, batch_size: 16}}}",
      "output_dir: run",
      "parties: [{name: p0, token: token-p0-123}, {name: p1, token: token-p1-123}]",
    ].join("\n"));
    for (const i of [0, 1]) {
      await writeFile(join(dir, `p${i}.yml`), [
        `aggregator: {ip: 127.0.0.1, port: ${port}}`, `party: {name: p${i}}`, `token: token-p${i}-123`,
        `data: {name: mnist, info: {party_index: ${i}, num_parties: 2, max_examples: 2000}}`,
        `model: {name: TfjsModuleModel, spec: {model_definition: ${model}}}`,
        "reconnect: {initial_delay_ms: 100, max_delay_ms: 500}",
      ].join("\n"));
    }
    const aggregator = start(["aggregator", "--config", join(dir, "aggregator.yml")]);
    const p0 = start(["party", "--config", join(dir, "p0.yml")]);
    let p1 = start(["party", "--config", join(dir, "p1.yml")]);

    // Killed while training round 2.
    await p1.waitFor((e) => e.phase === "train" && e.round === 2 && e.msg === "local training started");
    await p1.kill("SIGKILL");
    p1 = start(["party", "--config", join(dir, "p1.yml")]);

    expect(await aggregator.exited).toBe(0);
    expect(await p0.exited).toBe(0);
    expect(await p1.exited).toBe(0);
    const lines = (await readFile(join(dir, "run", "metrics.jsonl"), "utf8")).trim().split("\n").map((l) => JSON.parse(l));
    expect(lines.map((l) => l.round)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(lines[1].parties).toEqual(["p0"]);
    expect(lines[1].missing).toEqual(["p1"]);
    // Back within a round or two (it restarts in about a second while rounds take a few).
    expect(lines[5].parties.sort()).toEqual(["p0", "p1"]);
    const joins = aggregator.events.filter((e) => e.phase === "join" && e.party === "p1").map((e) => e.joins);
    expect(joins).toEqual([1, 2]);
  }, 240_000);
});
