import { access, readdir } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { StagedBytes, StagedWriter } from "@cohort/fusion";
import type { Manifest } from "@cohort/tensors";
import { ArithmeticLearner } from "./helpers/arithmetic-learner.js";
import { startAggregator, startParties } from "./helpers/federation.js";
import { aggregatorExitCode } from "../packages/cli/src/commands/aggregator.js";

// 6 MB of float32: a fold reads it in several 4 MiB slices, so a read can fail after the first.
const manifest: Manifest = { tensors: [{ name: "w", dtype: "float32", shape: [1500, 1000] }] };
const cleanup: (() => void)[] = [];
afterEach(() => { cleanup.splice(0).forEach((f) => f()); });

/** The staged bytes, whose reads fail past the first slice: a staged file that cannot be read back. */
function failingAfterFirstSlice(staged: StagedBytes): StagedBytes {
  return {
    size: staged.size,
    read: async (offset, length) => {
      if (offset > 0) throw new Error("EIO: i/o error, read");
      return staged.read(offset, length);
    },
    release: () => staged.release(),
  };
}

describe("a fold that fails part way", () => {
  it("discards the round (no checkpoint from damaged sums) and leaves the run resumable, not finished", async () => {
    const { aggregator, port, outputDir } = await startAggregator({ rounds: 2, numParties: 3, percQuorum: 1 });
    cleanup.push(() => aggregator.forceClose());
    // The second round-1 update to be staged fails while it is folded: the first pass of the
    // round (party0's) has already written the sums, so that pass adds to them.
    let roundOneCommits = 0;
    const begin = aggregator.staging.begin.bind(aggregator.staging);
    aggregator.staging.begin = async (bytes: number): Promise<StagedWriter> => {
      const writer = await begin(bytes);
      const commit = writer.commit.bind(writer);
      writer.commit = async () => {
        const staged = await commit();
        if (aggregator.currentRound() !== 1) return staged;
        roundOneCommits += 1;
        return roundOneCommits === 2 ? failingAfterFirstSlice(staged) : staged;
      };
      return writer;
    };
    const learners = [0, 1, 2].map((i) => new ArithmeticLearner(manifest, 100, i + 1));
    // Staggered, so that the updates fold in separate passes in this order.
    learners.forEach((learner, i) => { learner.trainDelayMs = () => 300 * i; });
    // The party whose fold failed got INTERNAL for its upload and rejoins: the parties are not
    // awaited (cleanup closes the aggregator under them).
    for (const party of startParties(port, learners, cleanup)) party.catch(() => undefined);
    const summary = await aggregator.run();

    expect(roundOneCommits).toBeGreaterThanOrEqual(2);
    expect(summary.rounds_completed).toBe(0);
    expect(summary.stopped_because).toBe("round 1 failed: a fold failed part way (EIO: i/o error, read)");
    expect(summary.failed_round).toBe(1);
    expect(aggregatorExitCode(summary, 2)).toBe(1); // `cohort aggregator` exits 1: a supervisor restarts it and the run resumes
    // Nothing was made of the damaged sums, and the run is left unfinished: the same config resumes it.
    expect(await readdir(join(outputDir, "checkpoints"))).not.toContain("round-0001.bin");
    await expect(access(join(outputDir, "summary.json"))).rejects.toThrow(/ENOENT/);
  }, 60_000);
});
