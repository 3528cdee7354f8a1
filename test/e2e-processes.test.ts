import { execFile } from "node:child_process";
import { readFile, readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";
import { readRoundLines } from "./helpers/federation.js";
import { tempDir } from "./helpers/temp-dirs.js";
import { loadLayersModelFromFile, selectBackend, tf } from "@cohort/models";

const run = promisify(execFile);
const CLI = join(process.cwd(), "packages/cli/dist/main.js");

// These tests run the built `cohort` command (npm test builds first) as separate OS processes.
describe("cohort as separate processes", () => {
  let out: string;
  let stdout: string;

  beforeAll(async () => {
    out = await tempDir("cohort-e2e-");
    ({ stdout } = await run(process.execPath, [CLI, "demo", "--out", out, "--rounds", "2", "--parties", "3"], { timeout: 240_000 }));
  }, 300_000);

  it("runs an aggregator and 3 parties to the end and prints a line per round", async () => {
    expect(stdout).toMatch(/round 1\/2 {2}accuracy 0\.\d{4}/);
    expect(stdout).toMatch(/round 2\/2 {2}accuracy 0\.\d{4}/);
    expect(stdout).toMatch(/final held-out accuracy 0\.\d{4}/);
    // Piped, not a terminal: plain lines, no live status line.
    expect(stdout).not.toContain("\x1b[");
    const summary = JSON.parse(await readFile(join(out, "run", "summary.json"), "utf8"));
    expect(summary.rounds_completed).toBe(2);
    expect(summary.parties).toEqual(["party0", "party1", "party2"]);
    const lines = await readRoundLines(join(out, "run"));
    expect(lines[1].eval.accuracy).toBeGreaterThan(lines[0].eval.accuracy);
    expect(summary.final.accuracy).toBe(lines[1].eval.accuracy);
    expect(await readdir(join(out, "run", "checkpoints"))).toEqual(expect.arrayContaining(["round-0000.bin", "round-0001.bin", "round-0002.bin"]));
  });

  it("exports a final model that TF.js loads and that predicts the digits", async () => {
    await selectBackend("auto");
    const model = await loadLayersModelFromFile(join(out, "run", "model", "model.json"));
    const output = model.predict(tf.zeros([2, 28, 28, 1])) as tf.Tensor;
    expect(output.shape).toEqual([2, 10]);
    const sums = await tf.sum(output, 1).data();
    expect(sums[0]).toBeCloseTo(1, 4);
  });

  it("never writes a token into any log", async () => {
    const config = await readFile(join(out, "party0.yml"), "utf8");
    const token = /token: (\S+)/.exec(config)![1];
    for (const file of await readdir(join(out, "logs"))) {
      const text = await readFile(join(out, "logs", file), "utf8");
      expect(text.length).toBeGreaterThan(100);
      expect(text).not.toContain(token);
    }
  });

  it("every field of every log line of the run is documented in the README's log table", async () => {
    const readme = await readFile(join(process.cwd(), "README.md"), "utf8");
    const table = readme.slice(readme.indexOf("| field | meaning |"), readme.indexOf("## Operations"));
    const documented = new Set([...table.matchAll(/^\| ([^|]+) \|/gm)].flatMap((row) => [...row[1].matchAll(/`([a-z_]+)`/g)].map((m) => m[1])));
    const seen = new Map<string, string>();
    for (const file of await readdir(join(out, "logs"))) {
      for (const line of (await readFile(join(out, "logs", file), "utf8")).split("\n")) {
        if (!line.startsWith("{")) continue;
        const event = JSON.parse(line) as Record<string, unknown>;
        for (const key of Object.keys(event)) if (!seen.has(key)) seen.set(key, `${file}: ${String(event.msg)}`);
      }
    }
    // Metric names spread from a model's compile() (loss, accuracy, ...) are covered by the "..." row.
    const metrics = new Set(["loss", "accuracy", "acc", "val_loss", "val_accuracy"]);
    const undocumented = [...seen].filter(([key]) => !documented.has(key) && !metrics.has(key)).map(([key, where]) => `${key} (${where})`);
    expect(seen.size).toBeGreaterThan(30);
    expect(undocumented).toEqual([]);
  });

  it("a party with a wrong token exits with code 2 and says it was refused", async () => {
    const dir = await tempDir("cohort-e2e-bad-");
    const aggregatorYml = join(dir, "aggregator.yml");
    await writeFile(aggregatorYml, [
      "connection: {info: {ip: 127.0.0.1, port: 0}}",
      "hyperparams: {global: {rounds: 1, num_parties: 1, max_timeout: 20}}",
      `output_dir: ${join(dir, "run")}`,
      "parties: [{name: p0, token: right-token-123}]",
    ].join("\n"));
    const { spawn } = await import("node:child_process");
    const aggregator = spawn(process.execPath, [CLI, "aggregator", "--config", aggregatorYml]);
    try {
      const port = await new Promise<number>((resolve) => aggregator.stdout.on("data", (d: Buffer) => {
        const m = /"phase":"listen".*?"port":(\d+)/.exec(String(d));
        if (m) resolve(Number(m[1]));
      }));
      const partyYml = join(dir, "party.yml");
      await writeFile(partyYml, [
        `aggregator: {ip: 127.0.0.1, port: ${port}}`, "party: {name: p0}", "token: wrong-token-456",
        "data: {name: mnist, info: {party_index: 0, num_parties: 1, max_examples: 50}}",
        `model: {name: TfjsModuleModel, spec: {model_definition: ${join(process.cwd(), "examples/mnist-tfjs/model.mjs")}}}`,
      ].join("\n"));
      const result = await run(process.execPath, [CLI, "party", "--config", partyYml]).catch((e) => e);
      expect(result.code).toBe(2);
      expect(result.stdout).toMatch(/the aggregator refused this party/);
      expect(result.stdout).not.toContain("wrong-token-456");
    } finally {
      aggregator.kill("SIGKILL");
    }
  });

  it("a config with a typo names the file and key and suggests the right one", async () => {
    const dir = await tempDir("cohort-e2e-cfg-");
    const file = join(dir, "party.yml");
    await writeFile(file, "aggregator: {ip: 127.0.0.1, port: 1}\nparty: {name: p0}\ntoken: abcdefgh123\ndata: {name: mnist, info: {}}\nmodel: {name: TfjsModel, spec: {}}\nbackned: wasm\n");
    const result = await run(process.execPath, [CLI, "party", "--config", file]).catch((e) => e);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/party\.yml: backned: unknown key \(did you mean "backend"\?\)/);
  });
});
