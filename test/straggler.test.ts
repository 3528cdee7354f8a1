import { afterEach, describe, expect, it } from "vitest";
import * as grpc from "@grpc/grpc-js";
import { type Manifest, manifestByteLength } from "@cohort/tensors";
import { AggregatorMetrics } from "@cohort/telemetry";
import type { ModelChunk } from "@cohort/wire";
import { ArithmeticLearner } from "./helpers/arithmetic-learner.js";
import { capturingLogger, partyList, readRoundLines, runParties, startAggregator, startParties, testLogger } from "./helpers/federation.js";
import { RawClient } from "./helpers/raw-client.js";

const manifest: Manifest = { tensors: [{ name: "w", dtype: "float32", shape: [100] }] };
const cleanup: (() => void)[] = [];
afterEach(() => { cleanup.splice(0).forEach((f) => f()); });

/** An honest learner that trains round 1 slower than the round's deadline, later rounds at once. */
function straggling(examples: number, offset: number, delayMs: number): ArithmeticLearner {
  const learner = new ArithmeticLearner(manifest, examples, offset);
  learner.trainDelayMs = (round) => (round === 1 ? delayMs : 0);
  return learner;
}

/**
 * Two rounds of three parties (quorum 2) where party2 trains round 1 for `delayMs`: checks that
 * everyone finishes both rounds and that round 1 closed without party2; returns round 1's train
 * time, round 2's parties and the status party2's late round-1 update got.
 */
async function roundOneWithoutStraggler(settings: Parameters<typeof startAggregator>[0], delayMs: number, extras: Parameters<typeof startAggregator>[1] = {}) {
  const { aggregator, port, outputDir } = await startAggregator({ rounds: 2, numParties: 3, percQuorum: 2 / 3, ...settings }, extras);
  cleanup.push(() => aggregator.forceClose());
  const learners = [new ArithmeticLearner(manifest, 100, 1), new ArithmeticLearner(manifest, 300, 2), straggling(600, 4, delayMs)];
  const straggler = capturingLogger("party2");
  const runs = startParties(port, learners, cleanup, { logger: (i) => (i === 2 ? straggler.log : testLogger(`party${i}`)) });
  const summary = await aggregator.run();
  expect(await Promise.all(runs)).toEqual(Array(3).fill("all rounds completed"));
  expect(summary.rounds_completed).toBe(2);
  const lines = await readRoundLines(outputDir);
  // Round 1 closed on quorum (2 of 3), without the straggler.
  expect(lines[0].parties.sort()).toEqual(["party0", "party1"]);
  expect(lines[0].missing).toEqual(["party2"]);
  const refusal = straggler.lines.find((l) => l.phase === "upload" && l.round === 1 && l.code);
  return { lines, refusal };
}

describe("a slow party (straggler)", () => {
  it("does not hold the round past its deadline; its late update is refused with FAILED_PRECONDITION; it takes part in the next round", async () => {
    const { lines, refusal } = await roundOneWithoutStraggler({ maxTimeoutMs: 1_000 }, 1_600);
    // Round 1 closed at its 1 s deadline.
    expect(lines[0].ms.train).toBeLessThan(1_500);
    // Its round-1 update arrived late and was refused with a clear status.
    expect(refusal?.code).toBe("FAILED_PRECONDITION");
    expect(refusal?.reason).toMatch(/round 1 is not open for updates \(current round [12]\)/);
    // It was given round 2 and its update is in round 2's metrics.
    expect(lines[1].parties.sort()).toEqual(["party0", "party1", "party2"]);
    expect(lines[1].by_party.party2.examples).toBe(600);
  }, 30_000);
});

const metricValue = (text: string, series: string) => Number(text.split("\n").find((l) => l.startsWith(`${series} `))?.split(" ")[1] ?? NaN);

describe("per-phase deadlines (hyperparams.global.deadlines)", () => {
  it("a party past the train deadline is dropped at that deadline, long before max_timeout; the round closes on quorum; its late update is refused naming the deadline", async () => {
    const metrics = new AggregatorMetrics();
    const { lines, refusal } = await roundOneWithoutStraggler({ maxTimeoutMs: 20_000, deadlines: { trainMs: 800 } }, 2_000, { metrics });
    expect(lines[0].ms.train).toBeLessThan(2_000); // closed at the 0.8 s train deadline, not max_timeout's 20 s
    expect(refusal?.code).toBe("FAILED_PRECONDITION");
    expect(refusal?.reason).toBe("party2 was dropped from round 1: it missed the train deadline (0.8 s)");
    expect(lines[1].parties.sort()).toEqual(["party0", "party1", "party2"]);
    const text = await metrics.text();
    expect(metricValue(text, 'cohort_aggregator_dropped_parties_total{phase="train"}')).toBe(1);
    expect(metricValue(text, 'cohort_aggregator_rejected_updates_total{reason="deadline"}')).toBe(1);
  }, 30_000);

  it("a download and an upload that outlast their deadlines are cut (DEADLINE_EXCEEDED) and their parties dropped; the others complete the round; a party that does not report its evaluation in time is left out of it", async () => {
    const big: Manifest = { tensors: [{ name: "w", dtype: "float32", shape: [2 * 1024 * 1024] }] };
    const metrics = new AggregatorMetrics();
    const { aggregator, port, outputDir } = await startAggregator(
      { rounds: 1, numParties: 4, parties: partyList(4), percQuorum: 0.5, maxTimeoutMs: 20_000, deadlines: { downloadMs: 4_000, uploadMs: 4_000, evaluateMs: 5_000 } },
      { metrics, initialModel: { manifest: big, bytes: new Uint8Array(manifestByteLength(big)) } });
    cleanup.push(() => aggregator.forceClose());
    // party2 downloads the round's base model at a trickle; party3 sends a
    // header and one chunk of its update, then nothing (its idle limit, 60 s, is not what cuts it).
    const slowDownload = new RawClient(port, "party2", "token-of-party-2");
    const slowUpload = new RawClient(port, "party3", "token-of-party-3");
    cleanup.push(() => slowDownload.close(), () => slowUpload.close());
    const downloadStatus = new Promise<grpc.StatusObject>((resolve) => {
      void slowDownload.join(big).then(() => slowDownload.waitFor("train")).then(() => {
        const call = slowDownload.client.DownloadModel({ round: 0, offset: 0 }, slowDownload.metadata()) as grpc.ClientReadableStream<ModelChunk>;
        call.on("status", resolve);
        call.on("error", () => undefined);
        // One 64 KiB chunk per 100 ms: the 8 MiB would take 13 s.
        call.on("data", () => { call.pause(); setTimeout(() => call.resume(), 100); });
      });
    });
    const uploadResult = slowUpload.join(big).then(() => slowUpload.waitFor("train")).then(() => {
      const { call, result } = slowUpload.startUpload();
      call.write({ header: { round: 1, numExamples: 5, metrics: {}, trainSeconds: 0 } } as never);
      call.write({ chunk: { offset: 0, data: new Uint8Array(64 * 1024) } } as never);
      return result.catch((e: grpc.ServiceError) => e);
    });
    while (aggregator.registry.connected().length < 2) await new Promise((r) => setTimeout(r, 10));
    const started = Date.now();
    const { summary, lines } = await runParties(aggregator, port, outputDir, [new ArithmeticLearner(big, 100, 1), new ArithmeticLearner(big, 300, 2)], cleanup);
    expect(summary.rounds_completed).toBe(1);
    expect(Date.now() - started).toBeLessThan(18_000); // max_timeout is 20 s
    expect(lines[0].parties.sort()).toEqual(["party0", "party1"]);
    expect([...lines[0].missing].sort()).toEqual(["party2", "party3"]);
    expect(lines[0].examples).toBe(400);

    const upload = await uploadResult as grpc.ServiceError;
    expect(upload.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    expect(upload.details).toBe("party3 was dropped from round 1: it missed the upload deadline (4 s)");
    slowDownload.instructions?.cancel();
    const download = await Promise.race([downloadStatus, new Promise<undefined>((r) => setTimeout(() => r(undefined), 5_000))]);
    if (download) expect(download.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    expect(aggregator.staging.reservedBytes).toBe(0);
    expect(aggregator.quota.count("party2")).toBe(0);
    const text = await metrics.text();
    expect(metricValue(text, 'cohort_aggregator_dropped_parties_total{phase="download"}')).toBe(1);
    expect(metricValue(text, 'cohort_aggregator_dropped_parties_total{phase="upload"}')).toBe(1);
    // Neither raw client reports its evaluation: both are left out of it at the 5 s evaluate deadline.
    expect(metricValue(text, 'cohort_aggregator_dropped_parties_total{phase="evaluate"}')).toBe(2);
  }, 40_000);
});
