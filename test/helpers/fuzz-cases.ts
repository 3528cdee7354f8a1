import { crc32 } from "node:zlib";
import * as grpc from "@grpc/grpc-js";
import fc from "fast-check";
import { type Manifest, fingerprint, manifestByteLength } from "@cohort/tensors";
import { AUTHORIZATION_KEY, PARTY_KEY, SESSION_KEY, manifestToMessage } from "@cohort/wire";

/**
 * Hostile inputs for the fuzz test: each case is one RPC whose content is wrong in at least one
 * way the aggregator must catch, so every case must end in a gRPC error status.
 */

type Client = grpc.Client & Record<string, (...args: unknown[]) => unknown>;
export interface Identity { name: string; token: string; session?: string }
export type Outcome = { code: grpc.status; messages: number };

const SERVICE = "/cohort.v1.Federation/";
const hex = fc.stringMatching(/^[0-9a-f]{64}$/);
const printable = (max: number) => fc.string({ unit: fc.constantFrom(..."abcXYZ019-_ .:/=+"), maxLength: max });

/** Metadata that is missing, garbage, oversize, or valid for the fuzzing party. */
export const metadataArb = fc.oneof(
  { weight: 4, arbitrary: fc.constant("valid" as const) },
  fc.constant("missing" as const),
  fc.record({ party: printable(40), token: printable(40), session: printable(40) }),
  fc.record({ party: fc.constant("party0"), token: printable(20), session: fc.constant("") }),
  fc.record({ party: fc.constant("x".repeat(4000)), token: fc.constant("y".repeat(9000)), session: fc.constant("z".repeat(900)) }),
);
export type MetadataSpec = typeof metadataArb extends fc.Arbitrary<infer T> ? T : never;

export function metadataFor(spec: MetadataSpec, me: Identity): grpc.Metadata {
  const m = new grpc.Metadata();
  if (spec === "missing") return m;
  const { party, token, session } = spec === "valid" ? { party: me.name, token: me.token, session: me.session ?? "" } : spec;
  m.set(PARTY_KEY, party);
  m.set(AUTHORIZATION_KEY, `Bearer ${token}`);
  if (session) m.set(SESSION_KEY, session);
  return m;
}

const tensorArb = fc.record({
  name: fc.oneof(printable(12), fc.constant("")),
  dtype: fc.oneof(fc.constantFrom("float32", "float64", "int32", "uint8"), printable(8)),
  shape: fc.array(fc.oneof(fc.integer({ min: 0, max: 64 }), fc.constant(25_000_000_000), fc.constant(2 ** 52)), { maxLength: 20 }),
});

/** Join requests that are wrong somewhere: manifest, fingerprint, sizes, example counts. */
export function joinArb(manifest: Manifest) {
  const good = manifestToMessage(manifest);
  return fc.oneof(
    fc.record({ kind: fc.constant("random-manifest" as const), tensors: fc.array(tensorArb, { maxLength: 6 }), lieAboutFingerprint: fc.boolean() }),
    fc.record({ kind: fc.constant("huge-claim" as const), gigabytes: fc.integer({ min: 9, max: 100_000 }) }),
    fc.record({ kind: fc.constant("bad-fields" as const), examples: fc.constantFrom(0, -1), backend: fc.constantFrom("b".repeat(100), "wasm"), topology: fc.constantFrom("t".repeat(2 * 1024 * 1024 + 1), "") }),
    fc.record({ kind: fc.constant("fingerprint" as const), fingerprint: hex }),
  ).map((spec) => {
    const base = { partyName: "", manifestFingerprint: fingerprint(manifest), manifest: good, numTrainExamples: 10, backend: "fuzz", modelTopology: "" };
    switch (spec.kind) {
      case "random-manifest": {
        const msg = { tensors: spec.tensors };
        // Never the federation's own manifest with its true fingerprint: that join would be legitimate.
        return { ...base, manifest: msg, manifestFingerprint: spec.lieAboutFingerprint ? base.manifestFingerprint : "0".repeat(64) };
      }
      case "huge-claim": {
        const huge = { tensors: [{ name: "w", dtype: "float32", shape: [spec.gigabytes * 256 * 1024 * 1024] }] };
        return { ...base, manifest: huge, manifestFingerprint: fingerprint({ tensors: [{ name: "w", dtype: "float32", shape: [spec.gigabytes * 256 * 1024 * 1024] }] }) };
      }
      case "bad-fields": return { ...base, numTrainExamples: spec.examples, backend: spec.backend, modelTopology: spec.topology };
      case "fingerprint": return { ...base, manifestFingerprint: spec.fingerprint };
    }
  });
}

const headerArb = fc.record({
  round: fc.integer({ min: 0, max: 1000 }),
  numExamples: fc.oneof(fc.constantFrom(0, 1e13, Number.MAX_SAFE_INTEGER), fc.integer({ min: 1, max: 1000 })),
  metrics: fc.oneof(fc.dictionary(printable(10), fc.double(), { maxKeys: 4 }), fc.constant(Object.fromEntries(Array.from({ length: 70 }, (_, i) => [`m${i}`, i]))), fc.constant({ ["n".repeat(100)]: 1 })),
  trainSeconds: fc.oneof(fc.double({ min: 0, max: 100, noNaN: true }), fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, -1)),
  // The update encoding: the federation's (float32, also as ""), the other known ones, or junk.
  encoding: fc.oneof(fc.constantFrom("", "float32", "float16", "int8"), printable(40)),
});

/** An upload as a list of messages; `replayRound` marks a well-formed upload for an earlier round. */
export function uploadArb(total: number, chunkSize: number) {
  const chunk = fc.record({ offset: fc.oneof(fc.integer({ min: 0, max: total + 10 }), fc.constant(2 ** 40)), size: fc.integer({ min: 0, max: chunkSize * 2 }) });
  return fc.oneof(
    fc.record({ kind: fc.constant("garbage" as const), header: fc.option(headerArb), chunks: fc.array(chunk, { maxLength: 12 }), trailer: fc.option(fc.oneof(fc.nat(), fc.constantFrom(0, 0xffffffff))), extraHeader: fc.boolean() }),
    fc.record({ kind: fc.constant("replay" as const), roundsBack: fc.integer({ min: 1, max: 3 }) }),
    fc.record({ kind: fc.constant("empty" as const) }),
    fc.record({ kind: fc.constant("stall" as const) }),
  );
}
export type UploadSpec = typeof uploadArb extends (...a: never[]) => fc.Arbitrary<infer T> ? T : never;

/** Defects for an admitted upload (a participant's own round): each must fail verification. */
export const defectArb = fc.constantFrom("nan", "inf", "checksum", "truncated", "early-trailer", "out-of-order", "overlap", "too-long", "oversize-chunk", "second-header", "after-trailer");
export type Defect = typeof defectArb extends fc.Arbitrary<infer T> ? T : never;

/** The messages of an upload for `round` carrying `defect`, built from a valid packed update. */
export function defectiveUpload(round: number, defect: Defect | "none", total: number, chunkSize: number, at: number): object[] {
  const values = new Float32Array(total / 4).fill(0.25);
  if (defect === "nan") values[at % values.length] = Number.NaN;
  if (defect === "inf") values[at % values.length] = Number.NEGATIVE_INFINITY;
  const bytes = new Uint8Array(values.buffer);
  let chunks = [];
  for (let o = 0; o < total; o += chunkSize) chunks.push({ offset: o, data: bytes.subarray(o, o + chunkSize) });
  const checksum = crc32(bytes);
  const header = { header: { round, numExamples: 10, metrics: { loss: 1 }, trainSeconds: 1 } };
  let trailer: object | undefined = { trailer: { crc32: defect === "checksum" ? (checksum ^ 1) >>> 0 : checksum } };
  if (defect === "truncated") { chunks = chunks.slice(0, -1); trailer = undefined; }
  if (defect === "early-trailer") chunks = chunks.slice(0, -1);
  if (defect === "out-of-order") chunks.reverse();
  if (defect === "overlap") chunks.splice(1, 0, chunks[0]);
  if (defect === "too-long") chunks.push({ offset: total, data: new Uint8Array(4) });
  if (defect === "oversize-chunk") chunks = [{ offset: 0, data: new Uint8Array(chunkSize + 4) }];
  const messages: object[] = [header, ...chunks.map((c) => ({ chunk: c }))];
  if (defect === "second-header") messages.splice(2, 0, header);
  if (trailer) messages.push(trailer);
  if (defect === "after-trailer") messages.push({ chunk: { offset: total, data: new Uint8Array(4) } });
  return messages;
}

/** Messages for a fuzz upload spec; `currentRound` lets a replay target a closed round. */
export function uploadMessages(spec: UploadSpec, total: number, currentRound: number): object[] {
  if (spec.kind === "empty" || spec.kind === "stall") return [];
  // A well-formed, verifiable update for an earlier (closed) round: refused at admission, never folded.
  if (spec.kind === "replay") return defectiveUpload(Math.max(1, currentRound - spec.roundsBack), "none", total, 1024, 0);
  const out: object[] = [];
  if (spec.header) out.push({ header: spec.header });
  for (const c of spec.chunks) out.push({ chunk: { offset: c.offset, data: new Uint8Array(c.size).fill(0x7f) } });
  if (spec.extraHeader && spec.header) out.push({ header: spec.header });
  if (spec.trailer !== null) out.push({ trailer: { crc32: spec.trailer } });
  return out;
}

/** Writes an upload and returns its status; `hold` leaves the stream open (the idle deadline must end it). */
export function sendUpload(client: Client, metadata: grpc.Metadata, messages: object[], hold = false): Promise<Outcome> {
  return new Promise((resolve) => {
    const call = client.UploadUpdate(metadata, (error: grpc.ServiceError | null) => resolve({ code: error ? error.code : grpc.status.OK, messages: messages.length })) as grpc.ClientWritableStream<object>;
    call.on("error", () => undefined);
    for (const m of messages) call.write(m);
    if (!hold) call.end();
  });
}

/** One RPC with raw random bytes as its request, bypassing the client's serializer. */
export function sendRawBytes(client: grpc.Client, method: string, bytes: Uint8Array, metadata: grpc.Metadata): Promise<Outcome> {
  const path = SERVICE + method;
  const serialize = (b: Uint8Array) => Buffer.from(b);
  const deserialize = (b: Buffer) => b;
  return new Promise((resolve) => {
    const done = (code: grpc.status) => resolve({ code, messages: 1 });
    if (method === "Join" || method === "ReportEvaluation") {
      client.makeUnaryRequest(path, serialize, deserialize, bytes, metadata, (e) => done(e ? e.code : grpc.status.OK));
    } else if (method === "UploadUpdate") {
      const call = client.makeClientStreamRequest(path, serialize, deserialize, metadata, (e) => done(e ? e.code : grpc.status.OK));
      call.write(bytes);
      call.end();
    } else {
      const call = client.makeServerStreamRequest(path, serialize, deserialize, bytes, metadata);
      call.on("data", () => undefined);
      call.on("error", () => undefined);
      call.on("status", (s: grpc.StatusObject) => done(s.code));
    }
  });
}

export { manifestByteLength };
