import { describe, expect, it } from "vitest";
import { Collector } from "./collector.js";

describe("Collector", () => {
  it("closes as complete once every expected party answered, refusing strangers and second answers", async () => {
    const c = new Collector<number>(1, ["a", "b"], 10_000);
    expect(c.submit("x", 1)).toBe(false);
    expect(c.submit("a", 1)).toBe(true);
    expect(c.submit("a", 2)).toBe(false);
    expect(c.submit("b", 3)).toBe(true);
    const done = await c.closed;
    expect(done.reason).toBe("complete");
    expect([...done.results.entries()]).toEqual([["a", 1], ["b", 3]]);
    expect(c.submit("b", 4)).toBe(false);
  });

  it("stops waiting for a party that left and reports it missing", async () => {
    const c = new Collector<number>(2, ["a", "b"], 10_000);
    c.submit("a", 1);
    c.drop("b");
    const done = await c.closed;
    expect(done.reason).toBe("complete");
    expect(done.missing).toEqual(["b"]);
  });

  it("closes at the deadline with whatever arrived", async () => {
    const c = new Collector<number>(3, ["a", "b"], 50);
    c.submit("b", 7);
    const done = await c.closed;
    expect(done.reason).toBe("deadline");
    expect(done.missing).toEqual(["a"]);
    expect(done.results.get("b")).toBe(7);
  });
});
