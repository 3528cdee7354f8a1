import { afterEach, describe, expect, it } from "vitest";
import { runParties, startAggregator } from "./helpers/federation.js";
import { mnistLearners } from "./helpers/mnist-learners.js";

const cleanup: (() => void)[] = [];
afterEach(() => { cleanup.splice(0).forEach((f) => f()); });

describe("a federation on real MNIST digits, in one process over loopback gRPC", () => {
  it("trains a CNN with 3 parties for 2 rounds and the held-out accuracy rises", async () => {
    const { aggregator, port, outputDir } = await startAggregator({ rounds: 2, local: { epochs: 1, batchSize: 32, validationSplit: 0, lr: 0.003 } });
    cleanup.push(() => aggregator.forceClose());
    const learners = await mnistLearners(3, 700);
    const { lines } = await runParties(aggregator, port, outputDir, learners, cleanup);
    expect(lines).toHaveLength(2);
    // Before round 1 the model is random (accuracy ~0.1); each round must improve on it.
    expect(lines[0].eval.accuracy).toBeGreaterThan(0.5);
    expect(lines[1].eval.accuracy).toBeGreaterThan(lines[0].eval.accuracy);
    expect(lines[1].eval.loss).toBeLessThan(lines[0].eval.loss);
    expect(lines[0].examples).toBe(3 * 700);
  }, 180_000);
});
