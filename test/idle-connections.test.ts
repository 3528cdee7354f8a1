import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { readdirSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { type Socket, connect } from "node:net";
import { join } from "node:path";
import { createInterface } from "node:readline";
import * as grpc from "@grpc/grpc-js";
import { service as healthService } from "grpc-health-check";
import { afterAll, describe, expect, it } from "vitest";
import { Party } from "@cohort/party";
import { ArithmeticLearner } from "./helpers/arithmetic-learner.js";
import { freePort, testLogger } from "./helpers/federation.js";
import { CLI } from "./helpers/processes.js";
import { tempDir } from "./helpers/temp-dirs.js";

/**
 * The issue's flood, bounded: an aggregator process limited to 256 file descriptors, 300
 * connections from another loopback address (127.0.0.2) that send half an HTTP/2 preface and
 * then nothing. Health (gRPC and HTTP) and a real party's join must still work, from 127.0.0.1.
 */
const FD_LIMIT = 256;
const FLOOD = 300;
const HANDSHAKE_MS = 1500;
const IDLE_MS = 3000;

function canRun(): string | undefined {
  try {
    execFileSync("prlimit", ["--version"], { stdio: "ignore" });
  } catch {
    return "prlimit (util-linux) is not installed";
  }
  return process.platform === "linux" ? undefined : "needs Linux (/proc, 127.0.0.2 on loopback)";
}
const skip = canRun();

const sockets: Socket[] = [];
let aggregator: ChildProcess | undefined;
afterAll(() => {
  sockets.forEach((s) => s.destroy());
  aggregator?.kill("SIGKILL");
});

/** Opens `count` connections from `from`, each sending half the HTTP/2 preface; resolves once each is open or failed (at most 15 s). */
async function flood(port: number, count: number, from: string): Promise<{ opened: number; closedByServer: Promise<number> }> {
  let opened = 0;
  const closes: Promise<void>[] = [];
  await Promise.race([
    Promise.all(Array.from({ length: count }, () => new Promise<void>((settled) => {
      const socket = connect({ host: "127.0.0.1", port, localAddress: from });
      sockets.push(socket);
      socket.on("error", () => settled());
      closes.push(new Promise((resolve) => socket.once("close", () => resolve())));
      socket.once("connect", () => {
        opened++;
        socket.write("PRI * HTTP/2.0\r\n");
        settled();
      });
    }))),
    new Promise((resolve) => setTimeout(resolve, 15_000)),
  ]);
  // Resolves with how many were closed (by the server: the test never closes them) once all are, or after 15 s.
  const all = Promise.all(closes).then(() => closes.length);
  return { opened, closedByServer: Promise.race([all, new Promise<number>((resolve) => setTimeout(() => resolve(sockets.filter((s) => s.destroyed || s.closed).length), 15_000))]) };
}

/** A gRPC health check; its client (and connection) is left open when `keep` collects it. */
function healthCheck(port: number, keep?: grpc.Client[]): Promise<string> {
  const Client = grpc.makeGenericClientConstructor(healthService, "Health");
  const client = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  return new Promise((resolve) => {
    (client as unknown as { check: (req: object, opts: object, cb: (e: grpc.ServiceError | null, r?: { status: string }) => void) => void })
      .check({ service: "" }, { deadline: Date.now() + 5000 }, (error, reply) => {
        if (keep) keep.push(client);
        else client.close();
        resolve(error ? `error ${grpc.status[error.code]}` : String(reply?.status));
      });
  });
}

describe.skipIf(skip !== undefined)(`a flood of idle connections${skip ? ` (skipped: ${skip})` : ""}`, () => {
  it("leaves health, metrics and a party's join working; the idle connections are refused or closed, logged and counted", async () => {
    const dir = await tempDir("cohort-flood-");
    const [port, metricsPort] = [await freePort(), await freePort()];
    await writeFile(join(dir, "aggregator.yml"), [
      `connection: {info: {ip: 127.0.0.1, port: ${port}, limits: {handshake_timeout_ms: ${HANDSHAKE_MS}, unauthenticated_idle_ms: ${IDLE_MS}}}}`,
      "hyperparams: {global: {rounds: 1, num_parties: 1, max_timeout: 60}}",
      "parties: [{name: party0, token: token-of-party-0}]", "output_dir: run",
      `metrics: {port: ${metricsPort}}`,
    ].join("\n"));
    aggregator = spawn("prlimit", [`--nofile=${FD_LIMIT}:${FD_LIMIT}`, "--", process.execPath, CLI, "aggregator", "--config", join(dir, "aggregator.yml")], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, LOG_LEVEL: "info" } });
    aggregator.stderr!.resume();
    const events: Record<string, unknown>[] = [];
    const exited = new Promise<number | null>((resolve) => aggregator!.once("exit", resolve));
    const listening = new Promise<void>((resolve) => createInterface({ input: aggregator!.stdout! }).on("line", (line) => {
      try { events.push(JSON.parse(line)); } catch { return; }
      if (events.at(-1)!.phase === "listen") resolve();
    }));
    await Promise.race([listening, exited.then(() => { throw new Error("the aggregator exited"); })]);

    const { opened, closedByServer } = await flood(port, FLOOD, "127.0.0.2");
    expect(opened).toBeGreaterThan(0);
    // Under the flood: the aggregator holds far fewer descriptors than its limit, and answers.
    const fds = readdirSync(`/proc/${aggregator.pid}/fd`).length;
    expect(fds).toBeLessThan(FD_LIMIT / 2);
    // This health client keeps its connection: one call, never authenticated, so it is closed at the idle deadline, not the handshake one.
    const kept: grpc.Client[] = [];
    expect(await healthCheck(port, kept)).toBe("SERVING");
    const healthz = await fetch(`http://127.0.0.1:${metricsPort}/healthz`);
    expect(healthz.status).toBe(200);

    // A real party joins and runs the federation's round while the flood's survivors are held.
    const learner = new ArithmeticLearner({ tensors: [{ name: "w", dtype: "float32", shape: [8] }] }, 10, 1);
    learner.trainDelayMs = () => IDLE_MS + 3000; // the run (and /metrics) lasts until the checks below are done
    const party = new Party({ name: "party0", token: "token-of-party-0", host: "127.0.0.1", port, reconnect: { initialDelayMs: 100, maxDelayMs: 300, maxAttempts: 20 } },
      learner, testLogger("party0"));
    const run = party.run();

    // Every flood connection is refused (past 32 per address) or closed at the handshake deadline.
    expect(await closedByServer).toBe(FLOOD);
    await new Promise((resolve) => setTimeout(resolve, IDLE_MS + 500));
    kept.forEach((c) => c.close());
    const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    const count = (reason: string) => Number(new RegExp(`cohort_aggregator_closed_connections_total\\{reason="${reason}"\\} (\\d+)`).exec(metrics)?.[1] ?? 0);
    expect(count("per_address") + count("handshake_timeout")).toBe(opened);
    expect(count("per_address")).toBeGreaterThan(0);
    expect(count("handshake_timeout")).toBeGreaterThan(0);
    expect(count("unauthenticated_idle")).toBe(1); // the health client's connection; the party's was never bounded
    expect(events.some((e) => e.phase === "connection" && e.reason === "per_address" && e.peer === "127.0.0.2")).toBe(true);

    await expect(run).resolves.toBe("all rounds completed");
    party.close();
    expect(await exited).toBe(0);
  }, 90_000);
});
