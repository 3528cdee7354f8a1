import * as grpc from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import { type Manifest, manifestByteLength } from "@cohort/tensors";
import { type ModelChunk, SESSION_KEY } from "@cohort/wire";
import { RawClient } from "./helpers/raw-client.js";
import { startAggregator } from "./helpers/federation.js";

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
