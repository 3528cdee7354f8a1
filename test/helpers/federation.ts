import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Aggregator, type AggregatorSettings, type RoundMetrics, type RunSummary } from "@cohort/aggregator";
import { type LocalLearner, Party } from "@cohort/party";
import { type Logger, createLogger } from "@cohort/telemetry";

/** A logger for tests: silent unless TEST_LOG_LEVEL is set. */
export function testLogger(service: string) {
  return createLogger({ service, level: process.env.TEST_LOG_LEVEL ?? "silent" });
}

export function partyList(count: number) {
  return Array.from({ length: count }, (_, i) => ({ name: `party${i}`, token: `token-of-party-${i}` }));
}

/**
 * Runs Party i (party{i}, token-of-party-{i}) with learners[i] against the aggregator on `port`;
 * `logger(i)` may give a party its own logger (default: silent). Returns each party's run().
 */
export function startParties(port: number, learners: LocalLearner[], cleanup: (() => void)[], logger: (i: number) => Logger = (i) => testLogger(`party${i}`)): Promise<string>[] {
  return learners.map((learner, i) => {
    const party = new Party({ name: `party${i}`, token: `token-of-party-${i}`, host: "127.0.0.1", port }, learner, logger(i));
    cleanup.push(() => party.close());
    return party.run();
  });
}

/** Starts an aggregator on a free loopback port with a fresh output directory. */
export async function startAggregator(overrides: Partial<AggregatorSettings> = {}, extras: ConstructorParameters<typeof Aggregator>[2] = {}) {
  const outputDir = await mkdtemp(join(tmpdir(), "cohort-run-"));
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
): Promise<{ summary: RunSummary; lines: RoundMetrics[] }> {
  const run = aggregator.run();
  const parties = startParties(port, learners, cleanup);
  const [summary] = await Promise.all([run, ...parties]);
  const { readFile } = await import("node:fs/promises");
  const text = await readFile(join(outputDir, "metrics.jsonl"), "utf8");
  return { summary, lines: text.trim().split("\n").map((l) => JSON.parse(l) as RoundMetrics) };
}
