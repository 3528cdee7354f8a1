import * as grpc from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { RoundDeadlines, resolveDeadlines } from "./deadlines.js";

describe("RoundDeadlines", () => {
  it("drops a participant whose upload has not begun by the train deadline, once, and refuses it afterwards", async () => {
    const dropped: string[] = [];
    const d = new RoundDeadlines(3, ["a", "b"], resolveDeadlines(10_000, { trainMs: 30 }), 10_000, (party, phase) => { dropped.push(`${party}:${phase}`); return true; });
    const upload = d.upload("a");
    await new Promise((r) => setTimeout(r, 60));
    expect(dropped).toEqual(["b:train"]);
    expect(() => d.checkNotDropped("b")).toThrow(/b was dropped from round 3: it missed the train deadline \(0.03 s\)/);
    expect(upload.signal.aborted).toBe(false);
    upload.done();
    d.close();
  });

  it("aborts a transfer past its deadline with DEADLINE_EXCEEDED; a finished one is left alone", async () => {
    const d = new RoundDeadlines(1, ["a", "b"], resolveDeadlines(10_000, { downloadMs: 30 }), 10_000, () => true);
    const slow = d.download("a");
    const quick = d.download("b");
    quick.done();
    await new Promise((r) => setTimeout(r, 60));
    expect(slow.signal.aborted).toBe(true);
    expect(slow.signal.reason.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    expect(d.droppedFor("a")).toBe("download");
    expect(d.droppedFor("b")).toBeUndefined();
    d.close();
  });

  it("records nothing for a party the round no longer waits for", () => {
    const d = new RoundDeadlines(1, ["a"], resolveDeadlines(1_000), 1_000, () => false);
    d.drop("a", "cooldown");
    expect(d.droppedFor("a")).toBeUndefined();
    d.close();
  });
});
