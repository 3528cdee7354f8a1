import { spawn, spawnSync } from "node:child_process";
import { afterAll, describe, expect, it } from "vitest";
import { CLI, ProcessGroup, writeTwoPartyFederation } from "./helpers/processes.js";

const ERASE = "\r\x1b[2K";
// `script` (util-linux) gives the party a pseudo-terminal, as a person's shell would.
const hasScript = spawnSync("script", ["--version"]).status === 0;

describe.skipIf(!hasScript)("progress on a terminal, plain log lines otherwise (needs util-linux `script` for a pseudo-terminal)", () => {
  const group = new ProcessGroup();
  afterAll(() => group.killAll());

  it("a party on a terminal draws a live training line that log lines clear; a piped party writes JSON lines only", async () => {
    const federation = await writeTwoPartyFederation({ rounds: 1, maxExamples: 2400, batchSize: 16 });
    const aggregator = group.start(federation.aggregatorArgs);
    await aggregator.waitFor((e) => e.phase === "listen");

    const command = [process.execPath, CLI, ...federation.partyArgs(0)].map((a) => `'${a}'`).join(" ");
    const onTerminal = spawn("script", ["-qec", command, "/dev/null"], { env: { ...process.env, LOG_LEVEL: "info", CI: "", NO_PROGRESS: "", COLUMNS: "120" } });
    let terminal = "";
    onTerminal.stdout.on("data", (d: Buffer) => { terminal += d.toString(); });
    const terminalExit = new Promise<number | null>((resolve) => onTerminal.once("exit", resolve));

    const piped = group.start(federation.partyArgs(1), { CI: "", NO_PROGRESS: "" });
    let pipedOutput = "";
    piped.child.stdout!.on("data", (d: Buffer) => { pipedOutput += d.toString(); });
    piped.child.stderr!.on("data", (d: Buffer) => { pipedOutput += d.toString(); });

    await aggregator.waitFor((e) => e.phase === "done", 120_000);
    expect(await terminalExit).toBe(0);
    await piped.exited;

    // The live line: epoch, a bar, batches done of the epoch's total, the running loss.
    expect(terminal).toMatch(/\r\x1b\[2Klocal training {2}epoch 1\/1 \[[#.]{20}\] \d+\/\d+ {2}loss \d+\.\d{4} {2}\d+ s/);
    // Every JSON log line starts a line or follows an erase of the status line, never its text.
    const logLines = terminal.split("\n").filter((l) => l.includes("{\"level\""));
    expect(logLines.length).toBeGreaterThan(3);
    for (const line of logLines) {
      const at = line.indexOf("{\"level\"");
      expect(at === 0 || line.slice(0, at).endsWith(ERASE)).toBe(true);
      expect(() => JSON.parse(line.slice(at).replace(/\r$/, ""))).not.toThrow();
    }
    expect(terminal).toContain("\"msg\":\"update uploaded\"");
    // The piped party: no terminal control codes at all.
    expect(pipedOutput).toContain("\"msg\":\"update uploaded\"");
    expect(pipedOutput).not.toContain("\x1b[");
  }, 180_000);
});
