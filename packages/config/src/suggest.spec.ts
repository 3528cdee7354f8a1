import { describe, expect, it } from "vitest";
import { closestKey, editDistance } from "./suggest.js";

describe("editDistance", () => {
  it("counts a transposition as one edit", () => {
    expect(editDistance("rounds", "ruonds")).toBe(1);
    expect(editDistance("rouns", "rounds")).toBe(1);
    expect(editDistance("", "abc")).toBe(3);
  });
});

describe("closestKey", () => {
  const global = ["rounds", "num_parties", "perc_quorum", "max_timeout", "termination_accuracy", "evaluate_every"];

  it("suggests the key one typo away", () => {
    expect(closestKey("rouns", global)).toBe("rounds");
    expect(closestKey("num_partys", global)).toBe("num_parties");
  });

  it("treats camelCase and case as the same key", () => {
    expect(closestKey("batchSize", ["epochs", "batch_size"])).toBe("batch_size");
    expect(closestKey("Rounds", global)).toBe("rounds");
  });

  it("knows synonyms from other tools", () => {
    expect(closestKey("host", ["ip", "port", "chunk_size"])).toBe("ip");
    expect(closestKey("learning_rate", ["lr"])).toBe("lr");
  });

  it("suggests nothing when nothing is close", () => {
    expect(closestKey("colour", global)).toBeUndefined();
    expect(closestKey("x", [])).toBeUndefined();
  });
});
