import * as grpc from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { invalidArgument, failedPrecondition } from "@cohort/wire";
import { resolveLimits } from "./limits.js";
import { CooldownError, RejectionLimiter, peerAddress } from "./rejection-limiter.js";

describe("RejectionLimiter", () => {
  it("cools a peer down after maxRejections within the window, for the cooldown only", () => {
    let now = 0;
    const limiter = new RejectionLimiter(resolveLimits({ maxRejections: 3, rejectionWindowMs: 1_000, rejectionCooldownMs: 5_000 }), () => now);
    expect(limiter.strike("a")).toBe(false);
    now = 1_500; // the first strike left the window
    expect(limiter.strike("a")).toBe(false);
    expect(limiter.strike("a")).toBe(false);
    expect(limiter.strike("a")).toBe(true);
    expect(() => limiter.check("a", "a")).toThrow(CooldownError);
    expect(limiter.cooldownLeft("b")).toBe(0);
    now = 6_499;
    expect(limiter.cooldownLeft("a")).toBe(1);
    now = 6_500;
    expect(limiter.cooldownLeft("a")).toBe(0);
    expect(limiter.strike("a")).toBe(false); // counting starts over
  });

  it("counts only refusals a faulty peer earns, is off with maxRejections 0, and remembers a bounded number of peers", () => {
    expect(RejectionLimiter.isStrike(invalidArgument("x"))).toBe(true);
    expect(RejectionLimiter.isStrike(failedPrecondition("round closed"))).toBe(false);
    expect(RejectionLimiter.isStrike(new CooldownError("a", 1))).toBe(false);
    expect(new CooldownError("a", 1).code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    const off = new RejectionLimiter(resolveLimits({ maxRejections: 0 }));
    for (let i = 0; i < 100; i++) expect(off.strike("a")).toBe(false);
    const small = new RejectionLimiter(resolveLimits({ maxTrackedPeers: 2 }));
    for (const key of ["a", "b", "c"]) small.strike(key);
    expect(small.size).toBe(2);
  });

  it("keys callers by address without the port", () => {
    expect(peerAddress("127.0.0.1:50123")).toBe("127.0.0.1");
    expect(peerAddress("::1:50123")).toBe("::1");
    expect(peerAddress("[::1]:50123")).toBe("::1");
    expect(peerAddress("unknown")).toBe("unknown");
  });
});
