import { existsSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { threadCpuMs, threadTimes } from "./thread-cpu.js";

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

  it.skipIf(!existsSync("/proc/thread-self/schedstat"))("reads CPU time finer than 10 ms ticks, and the run-queue wait, where the kernel keeps schedstat", () => {
    const before = threadTimes();
    const started = performance.now();
    let x = 0;
    while (performance.now() - started < 30) x += Math.sqrt(x + 1);
    const after = threadTimes();
    expect(x).toBeGreaterThan(0);
    expect(before?.waitMs).toBeTypeOf("number");
    expect((after?.cpuMs ?? 0) - (before?.cpuMs ?? 0)).toBeGreaterThan(0);
    // Not a multiple of 10 ms, as /proc/thread-self/stat's ticks would be (schedstat counts ns, updated at scheduler ticks).
    expect((after?.cpuMs ?? 0) % 10).not.toBe(0);
    expect((after?.waitMs ?? 0)).toBeGreaterThanOrEqual(before?.waitMs ?? 0);
  });
});
