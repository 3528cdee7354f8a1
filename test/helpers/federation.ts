import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { Writable } from "node:stream";
import { afterEach, beforeAll } from "vitest";
import { Aggregator, type AggregatorSettings, type RoundMetrics, type RunSummary } from "@cohort/aggregator";
import { type LocalLearner, Party, type PartySettings } from "@cohort/party";
import { selectBackend } from "@cohort/models";
import { type Logger, createLogger } from "@cohort/telemetry";
import { tempDir } from "./temp-dirs.js";

/** A logger for tests: silent unless TEST_LOG_LEVEL is set. */
export function testLogger(service: string) {
  return createLogger({ service, level: process.env.TEST_LOG_LEVEL ?? "silent" });
}

export function partyList(count: number) {
  return Array.from({ length: count }, (_, i) => ({ name: `party${i}`, token: `token-of-party-${i}` }));
}

export interface StartPartiesOptions {
  /** Party i's logger (default: silent). */
  logger?: (i: number) => Logger;
  /** Settings of party i over the defaults (name party{i}, token token-of-party-{i}, 127.0.0.1:port). */
  settings?: (i: number) => Partial<PartySettings>;
  /** Party i's extras (e.g. its Prometheus metrics). */
  extras?: (i: number) => ConstructorParameters<typeof Party>[3];
}

/** Runs Party i with learners[i] against the aggregator on `port`; returns each party's run(). */
export function startParties(port: number, learners: LocalLearner[], cleanup: (() => unknown)[], options: StartPartiesOptions = {}): Promise<string>[] {
  return learners.map((learner, i) => {
    const settings: PartySettings = { name: `party${i}`, token: `token-of-party-${i}`, host: "127.0.0.1", port, ...options.settings?.(i) };
    const party = new Party(settings, learner, options.logger?.(i) ?? testLogger(`party${i}`), options.extras?.(i));
    cleanup.push(() => party.close());
    return party.run();
  });
}

/** The lines of a run directory's metrics.jsonl, one per completed round (this version always writes by_party). */
export async function readRoundLines(runDir: string): Promise<Required<RoundMetrics>[]> {
  const text = await readFile(join(runDir, "metrics.jsonl"), "utf8");
  return text.trim().split("\n").map((l) => JSON.parse(l) as Required<RoundMetrics>);
}

/** A logger whose JSON lines a test can read, each stamped with the time (`at`) it was written. */
export function capturingLogger(service: string, onLine: (line: Record<string, unknown>) => void = () => undefined) {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk, _enc, done) {
      const line = { ...JSON.parse(String(chunk)), at: Date.now() };
      lines.push(line);
      onLine(line);
      done();
    },
  });
  return { log: createLogger({ service, level: "info", destination }), lines };
}

/** Starts an aggregator on a free loopback port with a fresh output directory (removed at the end of the test file). */
export async function startAggregator(overrides: Partial<AggregatorSettings> = {}, extras: ConstructorParameters<typeof Aggregator>[2] = {}) {
  const outputDir = await tempDir("cohort-run-");
  const settings: AggregatorSettings = {
    host: "127.0.0.1", port: 0, chunkSize: 64 * 1024, algorithm: "fedavg", rounds: 2, numParties: 3, percQuorum: 1,
    maxTimeoutMs: 20_000, local: { epochs: 1, batchSize: 32, validationSplit: 0 }, outputDir, parties: partyList(3),
    ...overrides,
  };
  const aggregator = new Aggregator(settings, testLogger("aggregator"), extras);
  const port = await aggregator.start();
  return { aggregator, port, outputDir, settings };
}

/** A loopback port that was free a moment ago (for processes that must be told their port up front). */
export async function freePort(): Promise<number> {
  const net = await import("node:net");
  return new Promise<number>((resolve) => {
    const probe = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

/**
 * Runs an already started aggregator to the end with one in-process Party per learner
 * (party<i>, the tokens of partyList) and returns the summary and the metrics.jsonl lines.
 */
export async function runParties(
  aggregator: Aggregator, port: number, outputDir: string, learners: LocalLearner[], cleanup: (() => void)[],
): Promise<{ summary: RunSummary; lines: Required<RoundMetrics>[] }> {
  const run = aggregator.run();
  const parties = startParties(port, learners, cleanup);
  const [summary] = await Promise.all([run, ...parties]);
  return { summary, lines: await readRoundLines(outputDir) };
}

/**
 * The hooks an in-process federation test file shares: the backend `auto` picks, chosen before
 * the file's tests (models must be built after it is ready: wasm initialises asynchronously), and
 * a cleanup list run after each test (parties closed, aggregators force-closed).
 */
export function federationTestHooks(): { readonly backend: string; readonly cleanup: (() => void)[] } {
  const cleanup: (() => void)[] = [];
  let backend = "";
  beforeAll(async () => { backend = (await selectBackend("auto")).name; });
  afterEach(() => { cleanup.splice(0).forEach((f) => f()); });
  return { get backend() { return backend; }, cleanup };
}
