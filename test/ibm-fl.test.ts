import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { freePort, readRoundLines } from "./helpers/federation.js";
import { ProcessGroup } from "./helpers/processes.js";
import { tempDir } from "./helpers/temp-dirs.js";

/**
 * IBM FL users bring their files unchanged: the configs and models IBM FL's
 * examples/generate_configs.py writes (test/ibm-fl-layout, in IBM's repository layout, see its
 * NOTICE.md), run by `cohort` as separate processes with the working directory at the layout's
 * root, as IBM FL's users run, and --insecure because IBM's files name no parties and no tokens.
 * Only the port (IBM's 5000 may be taken), the output directory and, where a run is judged by
 * how much it learns, each party's shuffling seed come from the command line.
 */
const LAYOUT = join(process.cwd(), "test/ibm-fl-layout");
const group = new ProcessGroup();
afterAll(() => group.killAll());

type Event = Record<string, unknown>;

async function startCase(folder: string, seeded = false) {
  const port = String(await freePort());
  const out = join(await tempDir("cohort-ibm-"), "run");
  const aggregator = group.start(["aggregator", "--config", `${folder}/config_agg.yml`, "--insecure", "--port", port, "--output-dir", out], {}, LAYOUT);
  await aggregator.waitFor((e) => e.phase === "wait-parties", 60_000);
  const parties = [0, 1].map((i) => group.start(["party", "--config", `${folder}/config_party${i}.yml`, "--insecure", "--port", port, ...(seeded ? ["--seed", String(i + 1)] : [])], {}, LAYOUT));
  return { aggregator, parties, out };
}

/**
 * Runs a case to the end and checks that it learns: the global model's accuracy on the
 * aggregator's own 200 digits (its `data` section) is higher after the last round than after the
 * first and well above chance (0.1), and its loss on the parties' held-out digits falls by a fifth.
 * The parties' accuracy on their 2 x 40 digits is too coarse to judge (one digit is 0.0125).
 * The parties are seeded (--seed 1 and 2: batch order and dropout masks), so each case is the same
 * computation every run: unseeded, iter_avg/keras once rose only 0.68 -> 0.72 in a clean-clone CI
 * run. Seeded, by round: iter_avg/keras 0.505, 0.66, 0.805; fedavg/pytorch 0.44, 0.495, 0.81;
 * fedavg/tf 0.7, 0.84, 0.83 (the same in repeated runs).
 */
async function runsAndLearns(folder: string): Promise<void> {
  const { aggregator, parties, out } = await startCase(folder, true);
  expect(await aggregator.exited).toBe(0);
  expect(await Promise.all(parties.map((p) => p.exited))).toEqual([0, 0]);
  const lines = await readRoundLines(out);
  console.log(`${folder}: parties' eval ${lines.map((l) => `${l.eval.accuracy!.toFixed(4)}/${l.eval.loss!.toFixed(3)}`).join(", ")}; aggregator's ${lines.map((l) => l.aggregator_eval.accuracy).join(", ")}`);
  expect(lines.length).toBeGreaterThanOrEqual(2);
  const first = lines[0]!;
  const last = lines[lines.length - 1]!;
  expect(last.eval.loss!).toBeLessThan(0.8 * first.eval.loss!);
  expect(last.aggregator_eval.accuracy!).toBeGreaterThan(first.aggregator_eval.accuracy! + 0.05);
  expect(last.aggregator_eval.accuracy!).toBeGreaterThan(0.3);
  const summary = JSON.parse(await readFile(join(out, "summary.json"), "utf8")) as { aggregator_eval: Event; parties: string[] };
  expect(summary.aggregator_eval).toEqual(last.aggregator_eval);
  expect(summary.parties.sort()).toEqual(["config_party0", "config_party1"]);
}

describe("IBM FL's generated configs, unchanged, as separate processes", () => {
  it("iter_avg / keras: the files are taken as written, the aggregator evaluates each round on its data, a SIGTERM ends the run after round 1", async () => {
    const { aggregator, parties, out } = await startCase("examples/configs/iter_avg/keras");
    const roundOne = await aggregator.waitFor((e) => e.phase === "round-done" && e.round === 1, 240_000);
    expect(roundOne.aggregator_eval).toEqual({ examples: 200, accuracy: expect.any(Number) });
    aggregator.child.kill("SIGTERM");
    await aggregator.exited;
    await Promise.all(parties.map((p) => p.exited));

    const events = aggregator.events;
    const warnings = events.filter((e) => e.insecure === true).map((e) => e.msg);
    expect(warnings).toEqual([
      "--insecure: no TLS and no allow-list, any party name joins: use only on a trusted network",
      expect.stringMatching(/^config_party[01] joined without credentials/),
      expect.stringMatching(/^config_party[01] joined without credentials/),
    ]);
    expect(events).toContainEqual(expect.objectContaining({ key: "data.info.npz_file", resolved_against: "working directory", path: join(LAYOUT, "examples/datasets/mnist.npz") }));
    expect(events.filter((e) => e.msg === "IBM FL key accepted and ignored").map((e) => e.key)).toEqual(
      expect.arrayContaining(["connection.name", "fusion.path", "protocol_handler", "data.path"]));
    expect(events).toContainEqual(expect.objectContaining({ evaluator: "aggregator", msg: "global model evaluated on the aggregator's data", round: 1 }));
    const [line] = await readRoundLines(out);
    expect(line!.aggregator_eval).toEqual(roundOne.aggregator_eval);
    expect(line!.parties.sort()).toEqual(["config_party0", "config_party1"]);
    // The party side: IBM's privacy section and its own connection are accepted, paths from the working directory.
    const party = parties[0]!.events;
    expect(party.filter((e) => e.msg === "IBM FL key accepted and ignored").map((e) => e.key)).toEqual(expect.arrayContaining(["privacy", "connection", "local_training.name"]));
    expect(party).toContainEqual(expect.objectContaining({ key: "model.spec.model_definition", resolved_against: "working directory" }));
    // The file's own optimizer (its training_config) steps as Cohort's rule: fused on tensorflow, one elementwise pass on wasm.
    const backend = party.find((e) => e.phase === "backend" && e.backend)?.backend;
    expect(party).toContainEqual(expect.objectContaining({ phase: "backend", optimizer: expect.stringMatching(/^keras\.optimizers\./), fused_update: backend === "tensorflow", elementwise_update: backend === "wasm" }));
  }, 300_000);

  it("a SIGTERM before any party joined stops the aggregator without claiming that parties failed to join", async () => {
    const port = String(await freePort());
    const out = join(await tempDir("cohort-ibm-"), "run");
    const aggregator = group.start(["aggregator", "--config", "examples/configs/fedavg/pytorch/config_agg.yml", "--insecure", "--port", port, "--output-dir", out], {}, LAYOUT);
    await aggregator.waitFor((e) => e.phase === "wait-parties", 60_000);
    aggregator.child.kill("SIGTERM");
    await aggregator.exited;
    expect(aggregator.stderr).not.toMatch(/parties joined within/);
    expect(aggregator.events).toContainEqual(expect.objectContaining({ phase: "stopped", joined: 0, expected: 2, msg: "stopped by signal while waiting for parties (0 of 2 had joined)" }));
  }, 60_000);

  it("without --insecure, IBM's aggregator file stops at start with an error naming both ways out", async () => {
    const aggregator = group.start(["aggregator", "--config", "examples/configs/fedavg/pytorch/config_agg.yml"], {}, LAYOUT);
    expect(await aggregator.exited).toBe(2);
    expect(aggregator.stderr).toMatch(/config_agg\.yml: parties: missing required key, expected the allow-list of parties .* or start with --insecure/);
  }, 60_000);

  it("iter_avg / keras runs to the end and learns", () => runsAndLearns("examples/configs/iter_avg/keras"), 600_000);
  it("fedavg / pytorch runs to the end and learns", () => runsAndLearns("examples/configs/fedavg/pytorch"), 600_000);
  // IBM's subclassed TF model: its graph interpreted, compiled from the training config in its
  // root metadata (SparseCategoricalCrossentropy from logits, Adam), as IBM's files give nothing else.
  // Measured over 7 runs: the aggregator's accuracy 0.685-0.735 -> 0.82-0.85; the parties' accuracy
  // is 0.64-0.69 after round 1 already (3 epochs of Adam) and ends 0.70-0.76, a gain within the
  // 1/80 steps of their held-out digits, while their loss falls 1.25-1.30 -> 0.70-0.75.
  it("fedavg / tf runs to the end and learns", () => runsAndLearns("examples/configs/fedavg/tf"), 600_000);
});
