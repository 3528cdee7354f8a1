import * as grpc from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { resolveLimits } from "./limits.js";
import { StreamQuota, idleGuard } from "./stream-guard.js";

describe("StreamQuota", () => {
  it("bounds a party's open streams and its uploads in flight; release is idempotent", () => {
    const quota = new StreamQuota(resolveLimits({ maxStreamsPerParty: 3, maxUploadsPerParty: 1 }));
    const upload = quota.acquire("p", "upload");
    expect(() => quota.acquire("p", "upload")).toThrow(/already in flight/);
    const d1 = quota.acquire("p", "download");
    quota.acquire("p", "download");
    expect(() => quota.acquire("p", "download")).toThrow(expect.objectContaining({ code: grpc.status.RESOURCE_EXHAUSTED }));
    expect(quota.acquire("q", "download")).toBeTypeOf("function"); // another party has its own quota
    upload();
    upload();
    d1();
    expect(quota.count("p")).toBe(1);
    quota.acquire("p", "upload");
  });

  it("counts only a party's newest instruction stream", () => {
    const quota = new StreamQuota(resolveLimits({ maxStreamsPerParty: 2 }));
    for (let i = 0; i < 5; i++) quota.acquire("p", "instructions");
    expect(quota.count("p")).toBe(1);
  });
});

describe("idleGuard", () => {
  it("fails with DEADLINE_EXCEEDED when no message arrives in time", async () => {
    async function* stalls() {
      yield 1;
      await new Promise(() => undefined);
    }
    const seen: number[] = [];
    const error = await (async () => { for await (const n of idleGuard(stalls(), 30)) seen.push(n); })().catch((e) => e);
    expect(seen).toEqual([1]);
    expect(error.code).toBe(grpc.status.DEADLINE_EXCEEDED);
  });
});
