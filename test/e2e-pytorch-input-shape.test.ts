import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ProcessGroup, writeTwoPartyFederation } from "./helpers/processes.js";
import { readRoundLines } from "./helpers/federation.js";

const processes = new ProcessGroup();
afterAll(() => processes.killAll());

/**
 * `cohort party` processes with a PyTorch spec that gives no input_shape, for a model whose layers
 * fit several shapes (Flatten + Linear(784)): each party builds it for its data's examples.
 */
describe("cohort party takes a PyTorch model's input shape from its data", () => {
  it("two parties with NCHW MNIST build [1, 28, 28], log where it came from, and train the model over 2 rounds", async () => {
    const spec = join(process.cwd(), "test/corpus/pytorch/flatten_mlp/spec.yml");
    const { dir, aggregatorArgs, partyArgs } = await writeTwoPartyFederation({
      rounds: 2, maxExamples: 500, modelSection: `{name: PytorchFLModel, spec: ${spec}}`, dataInfo: "layout: nchw",
    });
    const aggregator = processes.start(aggregatorArgs);
    const parties = [0, 1].map((i) => processes.start(partyArgs(i)));
    for (const p of parties) {
      const ready = await p.waitFor((e) => e.phase === "ready");
      expect(ready.input_shape).toEqual([1, 28, 28]);
      expect(ready.input_shape_from).toBe("data");
    }
    expect(await aggregator.exited).toBe(0);
    for (const p of parties) expect(await p.exited).toBe(0);
    const lines = await readRoundLines(join(dir, "run"));
    expect(lines.map((l) => l.round)).toEqual([1, 2]);
    console.log(`PyTorch flatten_mlp, 2 cohort party processes: eval accuracy by round ${lines.map((l) => (l.eval.accuracy as number).toFixed(4)).join(", ")}`);
    // Untrained it scores about 0.1 (test/pytorch-corpus.test.ts); measured 0.7-0.8 after round 2.
    expect(lines[1].eval.accuracy).toBeGreaterThan(0.5);
  }, 120_000);
});
