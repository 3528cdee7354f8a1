import * as grpc from "@grpc/grpc-js";
import { type Manifest, type WeightSet, tensorBytes } from "@cohort/tensors";
import { Crc32, type ModelChunk, type UploadMessage, type UploadResponse, WeightAssembler } from "@cohort/wire";

type Client = grpc.Client & Record<string, (...args: unknown[]) => unknown>;

/** Retries of a download that broke off; each resumes at the first byte not yet received. */
export const DOWNLOAD_ATTEMPTS = 4;

/** Downloads the global weights of `round`, resuming from the received offset if the stream breaks. */
export async function downloadModel(client: Client, metadata: grpc.Metadata, manifest: Manifest, round: number, chunkSize: number): Promise<{ weights: WeightSet; bytes: number }> {
  const assembler = new WeightAssembler(manifest, chunkSize);
  let crc32 = 0;
  for (let attempt = 1; ; attempt++) {
    try {
      const call = client.DownloadModel({ round, offset: assembler.received }, metadata) as grpc.ClientReadableStream<ModelChunk>;
      for await (const chunk of call as AsyncIterable<ModelChunk>) {
        if (chunk.data.byteLength > 0) assembler.add(chunk);
        // The chunk that ends the model carries the checksum (an empty one for an empty model).
        if (assembler.complete) crc32 = chunk.crc32;
      }
      return { weights: assembler.finish(crc32), bytes: assembler.received };
    } catch (error) {
      const code = (error as grpc.ServiceError).code;
      const transient = code === grpc.status.UNAVAILABLE || code === grpc.status.DEADLINE_EXCEEDED || code === grpc.status.INTERNAL;
      if (!transient || attempt >= DOWNLOAD_ATTEMPTS) throw error;
    }
  }
}

/**
 * The packed form of `weights` (tensors' little-endian bytes in manifest order) as chunks of
 * `chunkSize`, without packing the whole model first: a chunk inside one tensor is a view of
 * its data; only a chunk spanning tensors is copied together.
 */
export function* packedChunks(weights: WeightSet, chunkSize: number): Generator<{ offset: number; data: Uint8Array }> {
  if (!Number.isSafeInteger(chunkSize) || chunkSize <= 0) throw new RangeError(`chunk size must be a positive integer, got ${chunkSize}`);
  let offset = 0;
  let pending: Uint8Array | undefined;
  let filled = 0;
  for (const t of weights) {
    const bytes = tensorBytes(t);
    let at = 0;
    while (at < bytes.byteLength) {
      if (!pending && bytes.byteLength - at >= chunkSize) {
        yield { offset, data: bytes.subarray(at, at + chunkSize) };
        offset += chunkSize;
        at += chunkSize;
        continue;
      }
      pending ??= new Uint8Array(chunkSize);
      const take = Math.min(chunkSize - filled, bytes.byteLength - at);
      pending.set(bytes.subarray(at, at + take), filled);
      filled += take;
      at += take;
      if (filled === chunkSize) {
        yield { offset, data: pending };
        offset += chunkSize;
        pending = undefined;
        filled = 0;
      }
    }
  }
  if (pending && filled > 0) yield { offset, data: pending.subarray(0, filled) };
}

/**
 * Streams an update: header, chunks of at most `chunkSize`, trailer with the CRC-32 of all
 * bytes. The checksum is computed chunk by chunk as they are sent, not in a pass before the
 * first byte goes out, and the model is never packed into one buffer.
 */
export async function uploadUpdate(
  client: Client, metadata: grpc.Metadata, weights: WeightSet, chunkSize: number,
  header: { round: number; numExamples: number; metrics: Record<string, number>; trainSeconds: number; encoding?: string },
): Promise<{ response: UploadResponse; bytes: number }> {
  const checksum = new Crc32();
  let sent = 0;
  let call!: grpc.ClientWritableStream<UploadMessage>;
  const response = new Promise<UploadResponse>((resolve, reject) => {
    call = client.UploadUpdate(metadata, (error: grpc.ServiceError | null, value: UploadResponse) => (error ? reject(error) : resolve(value))) as grpc.ClientWritableStream<UploadMessage>;
  });
  // Once the call is over (a refusal, a broken link), stop writing: a "drain" never comes then.
  let over = false;
  const ended = response.then(() => undefined, () => undefined).then(() => { over = true; });
  const write = async (message: UploadMessage) => {
    if (over) throw new Error("upload call is over");
    if (!call.write(message)) await Promise.race([new Promise((resolve) => call.once("drain", resolve)), ended]);
  };
  try {
    await write({ kind: "header", header } as UploadMessage);
    for (const chunk of packedChunks(weights, chunkSize)) {
      checksum.update(chunk.data);
      sent += chunk.data.byteLength;
      await write({ kind: "chunk", chunk });
    }
    await write({ kind: "trailer", trailer: { crc32: checksum.value } });
    call.end();
  } catch {
    // A write failure surfaces as the call's status below.
  }
  return { response: await response, bytes: sent };
}
