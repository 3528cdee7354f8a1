import * as grpc from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import { type Manifest, manifestByteLength } from "@cohort/tensors";
import { type ModelChunk, SESSION_KEY } from "@cohort/wire";
import { AggregatorMetrics } from "@cohort/telemetry";
import { ArithmeticLearner } from "./helpers/arithmetic-learner.js";
import { RawClient } from "./helpers/raw-client.js";
import { runParties, startAggregator } from "./helpers/federation.js";
import { TcpProxy } from "./helpers/tcp-proxy.js";

// 8 MiB of weights: a download of it blocks on flow control when the client stops reading.
const manifest: Manifest = { tensors: [{ name: "w", dtype: "float32", shape: [2 * 1024 * 1024] }] };
const cleanup: (() => void)[] = [];
afterEach(() => { cleanup.splice(0).forEach((f) => f()); });

async function setup(limits = {}) {
  const started = await startAggregator({ numParties: 1, limits }, { initialModel: { manifest, bytes: new Uint8Array(manifestByteLength(manifest)) } });
  cleanup.push(() => started.aggregator.forceClose());
  const client = new RawClient(started.port, "party0", "token-of-party-0");
  cleanup.push(() => client.close());
  await client.join(manifest);
  return { ...started, client };
}

const code = (p: Promise<unknown>) => p.then(() => grpc.status.OK, (e: grpc.ServiceError) => e.code);

describe("limits on what a peer controls", () => {
  it("one upload in flight per party; a second is RESOURCE_EXHAUSTED", async () => {
    const { client } = await setup();
    const first = client.startUpload();
    await new Promise((r) => setTimeout(r, 100));
    const second = client.startUpload();
    second.call.end();
    const refused = await second.result.catch((e: grpc.ServiceError) => e) as grpc.ServiceError;
    expect(refused.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(refused.details).toMatch(/already in flight/);
    first.call.cancel();
  });

  it("an upload idle past uploadIdleMs gets DEADLINE_EXCEEDED and its staged bytes are dropped", async () => {
    const { client, aggregator } = await setup({ uploadIdleMs: 300 });
    const { call, result } = client.startUpload();
    const started = Date.now();
    const error = await result.catch((e: grpc.ServiceError) => e) as grpc.ServiceError;
    expect(error.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(aggregator.staging.reservedBytes).toBe(0);
    call.cancel();
  });

  it("at most maxStreamsPerParty streams per party (instructions + downloads + uploads)", async () => {
    const { client } = await setup({ maxStreamsPerParty: 2 });
    await client.waitFor("wait"); // the instruction stream: 1
    const upload = client.startUpload(); // 2, held open
    await new Promise((r) => setTimeout(r, 100));
    const download = () => new Promise<grpc.StatusObject>((resolve) => {
      const d = client.client.DownloadModel({ round: 0, offset: 0 }, client.metadata()) as grpc.ClientReadableStream<ModelChunk>;
      d.on("status", resolve);
      d.on("error", () => undefined);
      d.on("data", () => undefined);
    });
    const refused = await download();
    expect(refused.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(refused.details).toMatch(/streams open \(limit 2\)/);
    // The slot comes back when the upload ends.
    upload.call.cancel();
    await new Promise((r) => setTimeout(r, 200));
    expect((await download()).code).toBe(grpc.status.OK);
  });

  it("oversize metadata, a 100 GB model claim and a message over 4 MiB are refused before allocation", async () => {
    const { client, port } = await setup();
    const longSession = client.metadata();
    longSession.set(SESSION_KEY, "s".repeat(10_000));
    expect(await code(new Promise((res, rej) => client.client.ReportEvaluation({ round: 1, numExamples: 1, metrics: {} }, longSession, (e: Error | null) => (e ? rej(e) : res(null)))))).toBe(grpc.status.INVALID_ARGUMENT);

    const longName = new RawClient(port, "p".repeat(500), "token-of-party-0");
    cleanup.push(() => longName.close());
    expect(await code(longName.join(manifest))).toBe(grpc.status.INVALID_ARGUMENT);

    const huge: Manifest = { tensors: [{ name: "w", dtype: "float32", shape: [25_000_000_000] }] };
    const rss = process.memoryUsage().rss;
    const refusal = await client.join(huge).catch((e) => e);
    expect(refusal.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(refusal.details).toMatch(/exceed the aggregator's limit/);
    expect(process.memoryUsage().rss - rss).toBeLessThan(64 * 1024 * 1024);

    await client.join(manifest);
    const { call, result } = client.startUpload();
    call.write({ header: { round: 0, numExamples: 1, metrics: {}, trainSeconds: 0 } } as never);
    call.write({ chunk: { offset: 0, data: new Uint8Array(5 * 1024 * 1024) } } as never);
    call.end();
    expect(await code(result)).not.toBe(grpc.status.OK);
  });
});

describe("a party whose old upload still lingers on the aggregator (its link was cut silently)", () => {
  it("joins again and uploads: the old session's upload is ended instead of refusing the new one with RESOURCE_EXHAUSTED", async () => {
    const { aggregator, port } = await startAggregator({ numParties: 1 }, { initialModel: { manifest, bytes: new Uint8Array(manifestByteLength(manifest)) } });
    cleanup.push(() => aggregator.forceClose());
    const proxy = new TcpProxy({ host: "127.0.0.1", port });
    const proxyPort = await proxy.start();
    cleanup.push(() => void proxy.close());
    const before = new RawClient(proxyPort, "party0", "token-of-party-0");
    cleanup.push(() => before.close());
    await before.join(manifest);
    before.startUpload(); // open, waiting for its header
    await new Promise((r) => setTimeout(r, 200));
    expect(aggregator.quota.count("party0")).toBe(1);
    proxy.cut({ halfOpen: true }); // the aggregator's end of that upload stays open and silent
    await new Promise((r) => setTimeout(r, 200));
    expect(aggregator.quota.count("party0")).toBe(1);

    const after = new RawClient(port, "party0", "token-of-party-0");
    cleanup.push(() => after.close());
    await after.join(manifest);
    expect(aggregator.quota.count("party0")).toBe(0);
    const { call, result } = after.startUpload();
    call.end();
    const status = await result.catch((e: grpc.ServiceError) => e) as grpc.ServiceError;
    expect(status.code).toBe(grpc.status.INVALID_ARGUMENT); // read, not refused: "an upload must start with a header"
    expect(status.details).toMatch(/must start with a header/);
    expect(aggregator.staging.reservedBytes).toBe(0);
  });
});

describe("junk calls: a peer with too many refused calls is refused outright for a while", () => {
  it("an authenticated party spamming invalid uploads, and an address sending wrong tokens, get RESOURCE_EXHAUSTED without being read; the honest parties beside them complete the round", async () => {
    const small: Manifest = { tensors: [{ name: "w", dtype: "float32", shape: [100] }] };
    const metrics = new AggregatorMetrics();
    const limits = { maxRejections: 5, rejectionWindowMs: 10_000, rejectionCooldownMs: 1_500 };
    const { aggregator, port, outputDir } = await startAggregator(
      { rounds: 1, numParties: 3, percQuorum: 2 / 3, maxTimeoutMs: 20_000, limits }, { metrics, initialModel: { manifest: small, bytes: new Uint8Array(manifestByteLength(small)) } });
    cleanup.push(() => aggregator.forceClose());
    // party2 has valid credentials and takes part in round 1, but answers with junk.
    const spammer = new RawClient(port, "party2", "token-of-party-2");
    const stranger = new RawClient(port, "party2", "wrong-token-of-party-2");
    cleanup.push(() => spammer.close(), () => stranger.close());
    await spammer.join(small);
    const train = spammer.waitFor("train");
    spammer.autoEvaluate();
    const junk = async (client: RawClient) => {
      const { call, result } = client.startUpload();
      call.write({ header: { round: 1, numExamples: 0, metrics: {}, trainSeconds: 0 } } as never);
      call.end();
      return result.catch((e: grpc.ServiceError) => e) as Promise<grpc.ServiceError>;
    };
    const spam = train.then(async () => {
      const codes: number[] = [];
      for (let i = 0; i < 8; i++) codes.push((await junk(spammer)).code);
      // Refused before a single message is read: this upload sends none and never ends.
      const started = Date.now();
      const silent = await spammer.startUpload().result.catch((e: grpc.ServiceError) => e) as grpc.ServiceError;
      return { codes, silent, ms: Date.now() - started };
    });
    const started = Date.now();
    const { summary, lines } = await runParties(aggregator, port, outputDir, [new ArithmeticLearner(small, 100, 1), new ArithmeticLearner(small, 300, 2)], cleanup);
    const { codes, silent, ms } = await spam;

    expect(codes.slice(0, 5)).toEqual(Array(5).fill(grpc.status.INVALID_ARGUMENT));
    expect(codes.slice(5)).toEqual(Array(3).fill(grpc.status.RESOURCE_EXHAUSTED));
    expect(silent.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(silent.details).toMatch(/too many refused calls from party party2: calls refused for the next [12] s/);
    expect(Number(silent.metadata.get("grpc-retry-pushback-ms")[0])).toBeGreaterThan(0);
    expect(ms).toBeLessThan(1_000);
    // The round did not wait for party2 until max_timeout (20 s): its cooldown dropped it.
    expect(summary.rounds_completed).toBe(1);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(lines[0].parties.sort()).toEqual(["party0", "party1"]);
    expect(lines[0].missing).toEqual(["party2"]);

    // Wrong tokens from this address: after 5 UNAUTHENTICATED, RESOURCE_EXHAUSTED; honest
    // parties on the same address (their credentials valid) are not locked out.
    const strangerCodes: number[] = [];
    for (let i = 0; i < 7; i++) strangerCodes.push(await code(stranger.join(small)));
    expect(strangerCodes).toEqual([...Array(5).fill(grpc.status.UNAUTHENTICATED), ...Array(2).fill(grpc.status.RESOURCE_EXHAUSTED)]);
    const honest = new RawClient(port, "party0", "token-of-party-0");
    cleanup.push(() => honest.close());
    expect(await code(honest.join(small))).toBe(grpc.status.OK);

    // After the cooldown the spammer is heard (and refused on its merits) again.
    await new Promise((r) => setTimeout(r, limits.rejectionCooldownMs));
    expect((await junk(spammer)).code).toBe(grpc.status.INVALID_ARGUMENT);
    const text = await metrics.text();
    expect(text).toMatch(/cohort_aggregator_rejected_updates_total\{reason="cooldown"\} [1-9]/);
    expect(text).toMatch(/cohort_aggregator_dropped_parties_total\{phase="cooldown"\} 1/);
  }, 40_000);
});
