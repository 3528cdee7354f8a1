import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { federationService } from "./proto.js";
import { decodeModelChunk, decodeUploadChunk, encodeModelChunk, encodeUploadChunk } from "./transfer-codec.js";

// The reference: proto-loader's protobufjs codecs; the system under test: the service
// definition with the hand-written codecs in front of them.
const reference = federationService("protobufjs");
const fast = federationService("fast");
const ref = { upload: reference.UploadUpdate!, download: reference.DownloadModel! };
const sut = { upload: fast.UploadUpdate!, download: fast.DownloadModel! };

type Outcome = { ok: true; value: unknown } | { ok: false };
function attempt(f: () => unknown): Outcome {
  try {
    return { ok: true, value: f() };
  } catch {
    return { ok: false };
  }
}
/** Both codecs give equal results (Buffers compared by content, `kind` included), or both throw. */
function expectSame(a: () => unknown, b: () => unknown): void {
  const x = attempt(a);
  const y = attempt(b);
  expect(y.ok).toBe(x.ok);
  if (x.ok && y.ok) expect(y.value).toStrictEqual(x.value);
}

const safeUint = fc.oneof(fc.nat(300), fc.maxSafeNat(), fc.constantFrom(0, 127, 128, 16383, 16384, 2 ** 32 - 1, 2 ** 32, 2 ** 49 - 1, 2 ** 49, Number.MAX_SAFE_INTEGER));
/** Bytes as a Buffer or a plain Uint8Array, sometimes a view at an offset into a larger buffer. */
const bytes = fc.tuple(fc.uint8Array({ maxLength: 300 }), fc.nat(7), fc.boolean()).map(([b, at, asBuffer]) => {
  const backing = new Uint8Array(b.length + at + 3);
  backing.set(b, at);
  const view = backing.subarray(at, at + b.length);
  return asBuffer ? Buffer.from(view.buffer, view.byteOffset, view.byteLength) : view;
});
const hex = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString("hex"));
const anyString = fc.oneof(fc.constant(""), hex, fc.string({ maxLength: 20 }), fc.string({ unit: "binary", maxLength: 20 }));
/** Odd JS values where a number, bytes or a string belongs. */
const odd = fc.oneof(fc.constant(undefined), fc.constant(null), fc.double(), fc.integer({ min: -1000, max: -1 }), fc.string({ maxLength: 4 }), fc.array(fc.nat(255), { maxLength: 4 }));

const chunkObject = fc.record({ offset: fc.oneof(safeUint, odd), data: fc.oneof(bytes, odd) }, { requiredKeys: [] });
const headerObject = fc.record({ round: fc.nat(1000), numExamples: fc.nat(1e6), metrics: fc.dictionary(fc.string({ maxLength: 5 }), fc.double()), trainSeconds: fc.double({ noNaN: true }) }, { requiredKeys: [] });
const uploadObject = fc.oneof(
  fc.record({ kind: fc.constant("chunk"), chunk: fc.record({ offset: safeUint, data: bytes }) }),
  fc.record({
    kind: fc.constantFrom("chunk", "header", "trailer", undefined),
    chunk: fc.oneof(chunkObject, fc.constant(null), fc.constant(undefined)),
    header: fc.oneof(headerObject, fc.constant(undefined)),
    trailer: fc.oneof(fc.record({ sha256: anyString }), fc.constant(undefined)),
  }, { requiredKeys: [] }),
);
const modelChunkObject = fc.oneof(
  fc.record({ offset: safeUint, data: bytes, totalBytes: safeUint, sha256: fc.oneof(fc.constant(""), hex) }),
  fc.record({ offset: fc.oneof(safeUint, odd), data: fc.oneof(bytes, odd), totalBytes: fc.oneof(safeUint, odd), sha256: fc.oneof(anyString, odd) }, { requiredKeys: [] }),
);

/** Valid encodings (from protobufjs) of every kind of message, then cut, flipped, extended or spliced. */
function mutated(valid: fc.Arbitrary<Buffer>): fc.Arbitrary<Buffer> {
  return fc.tuple(valid, fc.array(fc.tuple(fc.constantFrom("cut", "flip", "append", "insert"), fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 12 })), { maxLength: 3 }))
    .map(([b, edits]) => {
      let out = Buffer.from(b);
      for (const [op, at, extra] of edits) {
        const i = out.length === 0 ? 0 : at % (out.length + 1);
        if (op === "cut") out = out.subarray(0, i);
        else if (op === "flip" && out.length > 0) out[i % out.length] ^= extra[0]!;
        else if (op === "append") out = Buffer.concat([out, extra]);
        else out = Buffer.concat([out.subarray(0, i), extra, out.subarray(i)]);
      }
      return out;
    });
}
const encodedUploads = fc.oneof(
  fc.record({ offset: safeUint, data: bytes }).map((chunk) => ref.upload.requestSerialize({ chunk })),
  headerObject.map((header) => ref.upload.requestSerialize({ header })),
  fc.record({ sha256: anyString }).map((trailer) => ref.upload.requestSerialize({ trailer })),
);
const encodedModelChunks = fc.record({ offset: safeUint, data: bytes, totalBytes: safeUint, sha256: anyString }, { requiredKeys: [] })
  .map((m) => ref.download.responseSerialize(m));
const randomBytes = fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b));

describe("hand-written codecs of the bulk messages", () => {
  it("encode upload messages to exactly the bytes protobufjs writes", () => {
    fc.assert(fc.property(uploadObject, (message) => {
      expectSame(() => ref.upload.requestSerialize(message), () => sut.upload.requestSerialize(message));
    }), { numRuns: 3000 });
  });

  it("take the fast path for every plain chunk", () => {
    fc.assert(fc.property(fc.record({ offset: safeUint, data: bytes }), (chunk) => {
      const fastBytes = encodeUploadChunk({ kind: "chunk", chunk });
      expect(fastBytes).toBeDefined();
      expect(fastBytes).toStrictEqual(ref.upload.requestSerialize({ kind: "chunk", chunk }));
    }), { numRuns: 1000 });
    fc.assert(fc.property(fc.record({ offset: safeUint, data: bytes, totalBytes: safeUint, sha256: fc.oneof(fc.constant(""), hex) }), (m) => {
      expect(encodeModelChunk(m)).toStrictEqual(ref.download.responseSerialize(m));
    }), { numRuns: 1000 });
  });

  it("encode model chunks to exactly the bytes protobufjs writes", () => {
    fc.assert(fc.property(modelChunkObject, (message) => {
      expectSame(() => ref.download.responseSerialize(message), () => sut.download.responseSerialize(message));
    }), { numRuns: 3000 });
  });

  it("decode upload messages as protobufjs does, `kind` included, for valid, damaged and random bytes", () => {
    fc.assert(fc.property(fc.oneof(encodedUploads, mutated(encodedUploads), randomBytes), (b) => {
      expectSame(() => ref.upload.requestDeserialize(b), () => sut.upload.requestDeserialize(b));
    }), { numRuns: 5000 });
  });

  it("decode model chunks as protobufjs does for valid, damaged and random bytes", () => {
    fc.assert(fc.property(fc.oneof(encodedModelChunks, mutated(encodedModelChunks), randomBytes), (b) => {
      expectSame(() => ref.download.responseDeserialize(b), () => sut.download.responseDeserialize(b));
    }), { numRuns: 5000 });
  });

  it("round-trip both ways with protobufjs, `data` a view of the received bytes", () => {
    fc.assert(fc.property(fc.record({ offset: safeUint, data: bytes }), (chunk) => {
      const viaRef = ref.upload.requestSerialize({ kind: "chunk", chunk });
      const decoded = decodeUploadChunk(viaRef)!; // every safe offset takes the fast path
      expect(decoded).toStrictEqual({ chunk: { offset: chunk.offset, data: Buffer.from(chunk.data) }, kind: "chunk" });
      expect(decoded.chunk.data.buffer).toBe(viaRef.buffer);
      expect(ref.upload.requestDeserialize(sut.upload.requestSerialize({ kind: "chunk", chunk }))).toStrictEqual(decoded);
    }), { numRuns: 500 });
    fc.assert(fc.property(fc.record({ offset: safeUint, data: bytes, totalBytes: safeUint, sha256: hex }), (m) => {
      const decoded = decodeModelChunk(ref.download.responseSerialize(m))!;
      expect(decoded).toStrictEqual({ ...m, data: Buffer.from(m.data) });
      expect(ref.download.responseDeserialize(sut.download.responseSerialize(m))).toStrictEqual(decoded);
    }), { numRuns: 500 });
  });

  it("leave what they do not fully understand to protobufjs, which rejects what is malformed", () => {
    const cases: [string, number[]][] = [
      ["length past the end", [0x12, 0x05, 0x08, 0x01, 0x12, 0x10, 1, 2]],
      ["inner length past the end", [0x12, 0x04, 0x08, 0x01, 0x12, 0x7f]],
      ["huge length varint", [0x12, 0xff, 0xff, 0xff, 0xff, 0x0f]],
      ["11-byte varint", [0x12, 0x0d, 0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x12, 0x00]],
      ["end group without start", [0x12, 0x03, 0x0c, 0x12, 0x00]],
      ["wire type 6", [0x12, 0x03, 0x0e, 0x12, 0x00]],
      ["wire type 7 at the top", [0x17, 0x00]],
      ["truncated varint", [0x12, 0x02, 0x08, 0x80]],
    ];
    for (const [, b] of cases) {
      const buffer = Buffer.from(b);
      expect(decodeUploadChunk(buffer)).toBeUndefined();
      if (buffer.length > 2) expect(decodeModelChunk(buffer.subarray(2))).toBeUndefined();
      expectSame(() => ref.upload.requestDeserialize(buffer), () => sut.upload.requestDeserialize(buffer));
      expectSame(() => ref.download.responseDeserialize(buffer), () => sut.download.responseDeserialize(buffer));
    }
    // A chunk sent as anything but a single plain UpdateChunk (here: a header before it) is decoded by protobufjs: last member wins.
    const two = Buffer.concat([ref.upload.requestSerialize({ header: { round: 1 } }), ref.upload.requestSerialize({ chunk: { offset: 3, data: Buffer.from([1]) } })]);
    expect(decodeUploadChunk(two)).toBeUndefined();
    expect(sut.upload.requestDeserialize(two)).toMatchObject({ kind: "chunk", chunk: { offset: 3 } });
  });
});
