import { crc32 } from "node:zlib";
import * as grpc from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import { packWeights } from "@cohort/tensors";
import { type DownloadRequest, type ModelChunk, federationClientConstructor, federationService } from "@cohort/wire";
import { downloadModel } from "./transfer.js";

// A real gRPC server that serves only DownloadModel, so each case can misbehave in one way.
const weights = [{ name: "w", dtype: "float32" as const, shape: [1000], data: new Float32Array(1000).map((_, i) => i * 0.25) }];
const manifest = { tensors: [{ name: "w", dtype: "float32" as const, shape: [1000] }] };
const packed = packWeights(weights);
const CHUNK = 1024;

type Serve = (request: DownloadRequest, call: grpc.ServerWritableStream<DownloadRequest, ModelChunk>) => void;

let stop: (() => void) | undefined;
afterEach(() => stop?.());

async function serve(handler: Serve) {
  const server = new grpc.Server();
  server.addService(federationService(), { DownloadModel: (call: grpc.ServerWritableStream<DownloadRequest, ModelChunk>) => handler(call.request, call) } as grpc.UntypedServiceImplementation);
  const port = await new Promise<number>((resolve, reject) => server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  const Client = federationClientConstructor();
  const client = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  stop = () => { client.close(); server.forceShutdown(); };
  return client as unknown as Parameters<typeof downloadModel>[0];
}

/** Streams the model from `from`, the checksum on the chunk that ends it; `breakAfter` chunks then a transient error. */
function streamFrom(call: grpc.ServerWritableStream<DownloadRequest, ModelChunk>, from: number, checksum: number, breakAfter = Infinity) {
  let sent = 0;
  for (let at = from; at < packed.byteLength; at += CHUNK) {
    if (sent++ === breakAfter) {
      call.emit("error", { code: grpc.status.UNAVAILABLE, details: "link dropped" });
      return;
    }
    const data = packed.subarray(at, at + CHUNK);
    call.write({ offset: at, data, totalBytes: packed.byteLength, crc32: at + data.byteLength === packed.byteLength ? checksum : 0 });
  }
  call.end();
}

describe("downloadModel", () => {
  it("assembles the chunks and checks the CRC-32 the last one carries", async () => {
    const client = await serve((request, call) => streamFrom(call, request.offset, crc32(packed)));
    const { weights: back, bytes } = await downloadModel(client, new grpc.Metadata(), manifest, 0, CHUNK);
    expect(bytes).toBe(4000);
    expect(Array.from(back[0].data as Float32Array)).toEqual(Array.from(weights[0].data));
  });

  it("refuses a model whose bytes do not give the checksum it was sent with", async () => {
    const client = await serve((request, call) => streamFrom(call, request.offset, (crc32(packed) ^ 0x100) >>> 0));
    await expect(downloadModel(client, new grpc.Metadata(), manifest, 0, CHUNK)).rejects.toThrow(/CRC-32 mismatch/);
  });

  it("resumes a broken stream at the first byte not received, and still checks the whole model", async () => {
    const offsets: number[] = [];
    const client = await serve((request, call) => {
      offsets.push(request.offset);
      streamFrom(call, request.offset, crc32(packed), offsets.length === 1 ? 2 : Infinity);
    });
    const { weights: back } = await downloadModel(client, new grpc.Metadata(), manifest, 0, CHUNK);
    expect(offsets).toEqual([0, 2 * CHUNK]);
    expect(Array.from(back[0].data as Float32Array)).toEqual(Array.from(weights[0].data));
  });
});
