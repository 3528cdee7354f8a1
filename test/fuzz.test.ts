import { readFileSync } from "node:fs";
import * as grpc from "@grpc/grpc-js";
import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import type { Manifest } from "@cohort/tensors";
import type { Instruction } from "@cohort/wire";
import { ArithmeticLearner } from "./helpers/arithmetic-learner.js";
import {
  type Defect, type Identity, type Outcome, defectArb, defectiveUpload, joinArb, manifestByteLength, metadataArb, metadataFor,
  sendRawBytes, sendUpload, uploadArb, uploadMessages,
} from "./helpers/fuzz-cases.js";
import { RawClient } from "./helpers/raw-client.js";
import { partyList, startAggregator, startParties } from "./helpers/federation.js";

// Property-based fuzzing of every RPC with a fixed seed and a bounded count, beside an honest
// federation whose aggregate must come out exactly as in a run without the fuzzer.
const SEED = 4_2024;
const CASES = 300;
const ROUNDS = 30;
const CHUNK = 1024;
const manifest: Manifest = { tensors: [{ name: "w", dtype: "float32", shape: [64, 32] }, { name: "b", dtype: "float32", shape: [32] }] };
const TOTAL = manifestByteLength(manifest);
const MEMBERS = ["fuzz-m0", "fuzz-m1", "fuzz-m2"];
const LOOP: Identity = { name: "fuzz-loop", token: "token-of-fuzz-loop" };
const allowList = [...partyList(3), { name: LOOP.name, token: LOOP.token }, ...MEMBERS.map((name) => ({ name, token: `token-of-${name}` }))];

type Client = grpc.Client & Record<string, (...args: unknown[]) => unknown>;
const cleanup: (() => void)[] = [];
afterEach(() => { cleanup.splice(0).forEach((f) => f()); });

class Tally {
  cases = 0;
  messages = 0;
  readonly codes = new Map<string, number>();
  add(o: Outcome): void {
    this.cases++;
    this.messages += o.messages;
    const name = grpc.status[o.code];
    this.codes.set(name, (this.codes.get(name) ?? 0) + 1);
  }
}

async function federation(fuzz: boolean) {
  const initialModel = { manifest, bytes: new Uint8Array(TOTAL) };
  const { aggregator, port } = await startAggregator(
    // maxRejections 0: the junk limit off, so that every hostile call reaches the handlers (limits.test.ts covers the limit).
    { rounds: ROUNDS, numParties: 3, chunkSize: CHUNK, parties: allowList, limits: { uploadIdleMs: 300, maxRejections: 0 } }, { initialModel });
  cleanup.push(() => aggregator.forceClose());
  // Honest learners that take a little time, so that rounds overlap the fuzzing.
  const learners = [[100, 1], [300, 2], [600, 4]].map(([n, offset]) => Object.assign(new ArithmeticLearner(manifest, n, offset), { trainDelayMs: () => 40 }));
  const honest = startParties(port, learners, cleanup, { settings: () => ({ reconnect: { initialDelayMs: 50, maxDelayMs: 200, maxAttempts: 20 } }) });
  // The honest parties are all in round 1, with or without the fuzzer.
  while (aggregator.registry.connected().length < 3) await new Promise((r) => setTimeout(r, 10));
  const rssBefore = process.memoryUsage().rss;
  const run = aggregator.run();
  const loop = new Tally();
  const members = new Tally();
  if (fuzz) {
    const defects = fc.sample(fc.tuple(defectArb, fc.nat(TOTAL)), { seed: SEED, numRuns: ROUNDS * MEMBERS.length });
    await Promise.all(MEMBERS.map((name, i) => member(port, name, defects.filter((_, k) => k % MEMBERS.length === i), members)));
    await fuzzLoop(port, aggregator, loop);
  }
  const summary = await run;
  await Promise.all(honest);
  return { aggregator, port, summary, loop, members, rssGrowth: process.memoryUsage().rss - rssBefore, global: aggregator.store.latest! };
}

/** A participant that answers every train instruction with an upload carrying one defect. */
async function member(port: number, name: string, defects: [Defect, number][], tally: Tally) {
  const client = new RawClient(port, name, `token-of-${name}`);
  cleanup.push(() => client.close());
  await client.join(manifest);
  void client.waitFor("stop").catch(() => undefined);
  client.autoEvaluate();
  let next = 0;
  client.instructions!.on("data", (i: Instruction) => {
    if (i.kind !== "train") return;
    const [defect, at] = defects[next++ % defects.length];
    void sendUpload(client.client as Client, client.metadata(), defectiveUpload(i.train.round, defect, TOTAL, CHUNK, at)).then((o) => tally.add(o));
  });
}

/** Random RPCs from a party that never takes part in a round (it joins, but opens no instruction stream). */
async function fuzzLoop(port: number, aggregator: Awaited<ReturnType<typeof startAggregator>>["aggregator"], tally: Tally) {
  const raw = new RawClient(port, LOOP.name, LOOP.token);
  cleanup.push(() => raw.close());
  LOOP.session = (await raw.join(manifest)).sessionId;
  const client = raw.client as Client;
  const notValid = metadataArb.filter((m) => m !== "valid");
  const unary = (method: string, request: object, metadata: grpc.Metadata) => new Promise<Outcome>((resolve) =>
    client[method](request, metadata, (e: grpc.ServiceError | null) => resolve({ code: e ? e.code : grpc.status.OK, messages: 1 })));
  const serverStream = (method: string, request: object, metadata: grpc.Metadata) => new Promise<Outcome>((resolve) => {
    const call = client[method](request, metadata) as grpc.ClientReadableStream<unknown>;
    call.on("data", () => undefined);
    call.on("error", () => undefined);
    call.on("status", (s: grpc.StatusObject) => resolve({ code: s.code, messages: 1 }));
  });
  const caseArb = fc.oneof(
    fc.record({ rpc: fc.constant("Join" as const), meta: metadataArb, request: joinArb(manifest) }),
    { weight: 3, arbitrary: fc.record({ rpc: fc.constant("UploadUpdate" as const), meta: metadataArb, upload: uploadArb(TOTAL, CHUNK) }) },
    fc.record({ rpc: fc.constant("DownloadModel" as const), meta: metadataArb, round: fc.oneof(fc.integer({ min: 1000, max: 2 ** 31 }), fc.constant(-1)), offset: fc.integer({ min: TOTAL + 1, max: 2 ** 40 }) }),
    fc.record({ rpc: fc.constant("ReportEvaluation" as const), meta: metadataArb, round: fc.integer({ min: 0, max: 100 }), numExamples: fc.integer({ min: 0, max: 1e6 }), metrics: fc.dictionary(fc.string({ maxLength: 8 }), fc.double()) }),
    fc.record({ rpc: fc.constant("Instructions" as const), meta: notValid }),
    fc.record({ rpc: fc.constant("raw" as const), method: fc.constantFrom("Join", "Instructions", "DownloadModel", "UploadUpdate", "ReportEvaluation"), meta: metadataArb, bytes: fc.uint8Array({ maxLength: 300 }) }),
  );
  await fc.assert(fc.asyncProperty(caseArb, async (c) => {
    const metadata = metadataFor(c.meta, LOOP);
    let outcome: Outcome;
    switch (c.rpc) {
      case "Join": outcome = await unary("Join", c.request, metadata); break;
      case "UploadUpdate": outcome = await sendUpload(client, metadata, uploadMessages(c.upload, TOTAL, aggregator.currentRound()), c.upload.kind === "stall"); break;
      // round -1 asks for the latest model, from an offset past its end.
      case "DownloadModel": outcome = await serverStream("DownloadModel", { round: c.round < 0 ? aggregator.currentRound() : c.round, offset: c.offset }, metadata); break;
      case "ReportEvaluation": outcome = await unary("ReportEvaluation", { round: c.round, numExamples: c.numExamples, metrics: c.metrics }, metadata); break;
      case "Instructions": outcome = await serverStream("Instructions", { sessionId: "x" }, metadata); break;
      case "raw": {
        // Valid credentials on a stream RPC could open a legitimate stream: raw bytes there go without them.
        const meta = c.meta === "valid" && (c.method === "Instructions" || c.method === "DownloadModel") ? "missing" : c.meta;
        outcome = await sendRawBytes(client, c.method, c.bytes, metadataFor(meta, LOOP));
        break;
      }
    }
    tally.add(outcome);
    return outcome.code !== grpc.status.OK;
  }), { seed: SEED, numRuns: CASES, endOnFailure: true });
}

async function healthStatus(port: number): Promise<string> {
  const { service } = await import("grpc-health-check");
  const Health = grpc.makeGenericClientConstructor(service as grpc.ServiceDefinition, "Health");
  const client = new Health(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as Client;
  cleanup.push(() => client.close());
  return new Promise((resolve, reject) => client.check({ service: "cohort.v1.Federation" }, (e: Error | null, r: { status: string | number }) => (e ? reject(e) : resolve(String(r.status)))));
}

describe("fuzzing every RPC beside an honest federation", () => {
  it(`${CASES} random hostile calls (seed ${SEED}) and ${ROUNDS * MEMBERS.length} defective uploads all get error statuses; the aggregate is unchanged`, async () => {
    const reference = await federation(false);
    const fuzzed = await federation(true);

    const codes = Object.fromEntries([...fuzzed.loop.codes, ...[...fuzzed.members.codes].map(([k, v]) => [`${k} (defective uploads)`, v] as const)]);
    console.log(`fuzz: ${fuzzed.loop.cases + fuzzed.members.cases} calls, ${fuzzed.loop.messages + fuzzed.members.messages} messages, status codes ${JSON.stringify(codes)}, crashes 0, rss growth ${(fuzzed.rssGrowth / 2 ** 20).toFixed(1)} MiB`);
    expect(fuzzed.loop.cases).toBe(CASES);
    expect(fuzzed.loop.codes.get("OK")).toBeUndefined();
    expect(fuzzed.members.codes.get("OK")).toBeUndefined();
    expect(fuzzed.members.cases).toBeGreaterThanOrEqual(ROUNDS);
    expect(String(await healthStatus(fuzzed.port))).toMatch(/^(SERVING|1)$/);
    expect(fuzzed.aggregator.staging.reservedBytes).toBe(0);
    expect(fuzzed.rssGrowth).toBeLessThan(256 * 2 ** 20);

    expect(fuzzed.summary.rounds_completed).toBe(ROUNDS);
    expect(readFileSync(fuzzed.global.path!).equals(readFileSync(reference.global.path!))).toBe(true); // the checkpoints the store served
    expect(fuzzed.global.crc32).toBe(reference.global.crc32);
  }, 120_000);
});
