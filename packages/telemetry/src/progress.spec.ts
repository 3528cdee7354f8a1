import { describe, expect, it } from "vitest";
import { ProgressLine, progressBar } from "./progress.js";

function terminal(isTTY: boolean, columns = 80) {
  const writes: string[] = [];
  return { writes, target: { isTTY, columns, write: (text: string) => writes.push(text) } };
}

describe("ProgressLine", () => {
  it("draws nothing when the target is not a terminal, so piped output stays plain", () => {
    const { writes, target } = terminal(false);
    const line = new ProgressLine(target);
    line.update("epoch 1/2");
    line.print("round 1/8");
    line.end();
    expect(line.enabled).toBe(false);
    expect(writes).toEqual(["round 1/8\n"]);
  });

  it("rewrites one line in place on a terminal and skips redraws closer than the interval", () => {
    const { writes, target } = terminal(true);
    const line = new ProgressLine(target, { enabled: true, minIntervalMs: 60_000 });
    line.update("batch 1/3");
    line.update("batch 2/3");
    line.update("batch 3/3", true);
    expect(writes).toEqual(["\r\x1b[2Kbatch 1/3", "\r\x1b[2Kbatch 3/3"]);
  });

  it("clears itself for a log line and redraws after it, until ended", () => {
    const { writes, target } = terminal(true);
    const logged: string[] = [];
    const line = new ProgressLine(target, { enabled: true });
    const log = line.interleave({ write: (chunk: string) => { writes.push(`LOG:${chunk}`); logged.push(chunk); } });
    line.update("epoch 1/2");
    log.write("{\"msg\":\"epoch done\"}\n");
    line.end();
    log.write("{\"msg\":\"update uploaded\"}\n");
    expect(writes).toEqual([
      "\r\x1b[2Kepoch 1/2",
      "\r\x1b[2K", "LOG:{\"msg\":\"epoch done\"}\n", "\r\x1b[2Kepoch 1/2",
      "\r\x1b[2K",
      "LOG:{\"msg\":\"update uploaded\"}\n",
    ]);
    expect(logged).toHaveLength(2);
  });

  it("cuts text that would wrap at the terminal's width", () => {
    const { writes, target } = terminal(true, 30);
    new ProgressLine(target, { enabled: true }).update("x".repeat(100));
    expect(writes[0]).toBe(`\r\x1b[2K${"x".repeat(28)}…`);
  });
});

describe("progressBar", () => {
  it("fills cells in proportion and clamps out-of-range fractions", () => {
    expect(progressBar(0.5, 10)).toBe("[#####.....]");
    expect(progressBar(2, 4)).toBe("[####]");
    expect(progressBar(Number.NaN, 4)).toBe("[....]");
  });
});
