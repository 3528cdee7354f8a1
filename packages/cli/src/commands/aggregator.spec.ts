import { describe, expect, it } from "vitest";
import { aggregatorExitCode } from "./aggregator.js";

describe("aggregatorExitCode", () => {
  it.each<[{ rounds_completed: number; failed_round?: number }, number, number, string]>([
    [{ rounds_completed: 3 }, 3, 0, "all rounds"],
    [{ rounds_completed: 2 }, 3, 0, "termination accuracy or a signal after some rounds"],
    [{ rounds_completed: 0 }, 0, 0, "a run of 0 rounds"],
    [{ rounds_completed: 0 }, 3, 1, "stopped before any round completed"],
    [{ rounds_completed: 2, failed_round: 3 }, 5, 1, "a round failed after others completed (a supervisor restarts and resumes)"],
  ])("%o of %i rounds: exit %i (%s)", (summary, rounds, code) => {
    expect(aggregatorExitCode(summary, rounds)).toBe(code);
  });
});
