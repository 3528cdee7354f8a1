import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { createLogger } from "./logger.js";

function capture() {
  const lines: string[] = [];
  const stream = new Writable({ write(chunk, _enc, done) { lines.push(String(chunk)); done(); } });
  return { lines, stream: stream as unknown as import("pino").DestinationStream };
}

describe("createLogger", () => {
  it("writes JSON lines with the service and event fields", () => {
    const { lines, stream } = capture();
    createLogger({ service: "aggregator", level: "info", destination: stream }).info({ round: 2, phase: "fuse", ms: 12 }, "fused");
    const event = JSON.parse(lines[0]);
    expect(event).toMatchObject({ service: "aggregator", round: 2, phase: "fuse", ms: 12, msg: "fused" });
  });

  it("redacts tokens wherever they appear", () => {
    const { lines, stream } = capture();
    const log = createLogger({ service: "party", level: "info", destination: stream });
    log.info({ token: "s3cret-token", config: { parties: [{ name: "p0", token: "other-s3cret" }] }, metadata: { authorization: "Bearer abc" } }, "x");
    expect(lines.join("")).not.toMatch(/s3cret|Bearer abc/);
    expect(JSON.parse(lines[0]).token).toBe("[redacted]");
  });

  it("honours the level", () => {
    const { lines, stream } = capture();
    const log = createLogger({ service: "party", level: "warn", destination: stream });
    log.info("hidden");
    log.warn("shown");
    expect(lines).toHaveLength(1);
  });
});
