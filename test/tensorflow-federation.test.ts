import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { installedNativeBinding } from "@cohort/models";
import { readRoundLines } from "./helpers/federation.js";
import { ProcessGroup, writeTwoPartyFederation } from "./helpers/processes.js";

const processes = new ProcessGroup();
afterAll(() => processes.killAll());

// CI builds the binding (`cohort backend install tensorflow --from <venv>`) and runs this file
// after the main suite; where no binding is built, parties would train on wasm: skipped.
const native = installedNativeBinding();
const skipped = native ? "" : " (skipped: no tfjs-node binding is built here; `cohort backend install tensorflow` builds one)";

// CI sets COHORT_EXPECT_TENSORFLOW=1 after building the binding: a missing one fails there.
it.runIf(process.env.COHORT_EXPECT_TENSORFLOW === "1" && !native)("has a tfjs-node binding (COHORT_EXPECT_TENSORFLOW=1)", () => {
  expect.fail("no @tensorflow/tfjs-node(-gpu) binding is built: run cohort backend install tensorflow");
});

describe.skipIf(!native)(`a federation whose parties train on the tensorflow backend${skipped}`, () => {
  it("picks it by default, logs it with the TensorFlow version at start-up and the samples/s of each round, and learns", async () => {
    const { dir, aggregatorArgs, partyArgs } = await writeTwoPartyFederation({ rounds: 2, maxExamples: 600 });
    const aggregator = processes.start(aggregatorArgs);
    const parties = [0, 1].map((i) => processes.start(partyArgs(i)));
    expect(await aggregator.exited).toBe(0);
    for (const party of parties) {
      expect(await party.exited).toBe(0);
      const backend = party.events.find((e) => e.phase === "backend");
      expect(backend).toMatchObject({ backend: "tensorflow", detail: expect.stringMatching(/^@tensorflow\/tfjs-node(-gpu)? \(TensorFlow \d+\.\d+\.\d+ C library/) });
      // This model module compiles with TF.js' own tf.train.adam: eager ops (Cohort's rules run fused).
      expect(party.events.find((e) => e.phase === "backend" && e.optimizer)).toMatchObject({ optimizer: "Adam", fused_update: false });
      // The example CNN's layers and loss are the graph trainer's: one TensorFlow graph run per batch.
      expect(party.events.find((e) => e.phase === "backend" && e.graph_training !== undefined)).toMatchObject({ graph_training: true });
      const uploads = party.events.filter((e) => e.msg === "update uploaded");
      expect(uploads.map((e) => e.round)).toEqual([1, 2]);
      for (const upload of uploads) expect(upload.samples_per_second).toBeGreaterThan(0);
    }
    const lines = await readRoundLines(join(dir, "run"));
    expect(lines[1].eval.accuracy).toBeGreaterThan(lines[0].eval.accuracy);
    expect(JSON.parse(await readFile(join(dir, "run", "summary.json"), "utf8")).rounds_completed).toBe(2);
  }, 180_000);
});
