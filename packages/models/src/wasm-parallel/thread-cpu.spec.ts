import { existsSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { threadCpuMs } from "./thread-cpu.js";

describe("threadCpuMs", () => {
  it.skipIf(!existsSync("/proc/thread-self/stat"))("counts this thread's CPU time as it works (Linux)", () => {
    const before = threadCpuMs() as number;
    const started = performance.now();
    let x = 0;
    while (performance.now() - started < 150) x += Math.sqrt(x + 1);
    const after = threadCpuMs() as number;
    expect(x).toBeGreaterThan(0);
    // 150 ms of wall time busy on this thread: some CPU time (the host may be loaded), never more than the wall time plus a tick.
    expect(after - before).toBeGreaterThan(0);
    expect(after - before).toBeLessThanOrEqual(170);
  });
});
