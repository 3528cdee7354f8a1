import { createHash } from "node:crypto";
import * as grpc from "@grpc/grpc-js";
import { type Manifest, type WeightSet, packWeights } from "@cohort/tensors";
import { type ModelChunk, type UploadMessage, type UploadResponse, WeightAssembler, chunksOf } from "@cohort/wire";

type Client = grpc.Client & Record<string, (...args: unknown[]) => unknown>;

/** Retries of a download that broke off; each resumes at the first byte not yet received. */
export const DOWNLOAD_ATTEMPTS = 4;

/** Downloads the global weights of `round`, resuming from the received offset if the stream breaks. */
export async function downloadModel(client: Client, metadata: grpc.Metadata, manifest: Manifest, round: number, chunkSize: number): Promise<{ weights: WeightSet; bytes: number }> {
  const assembler = new WeightAssembler(manifest, chunkSize);
  let digest = "";
  for (let attempt = 1; ; attempt++) {
    try {
      const call = client.DownloadModel({ round, offset: assembler.received }, metadata) as grpc.ClientReadableStream<ModelChunk>;
      for await (const chunk of call as AsyncIterable<ModelChunk>) {
        if (chunk.data.byteLength > 0) assembler.add(chunk);
        if (chunk.sha256) digest = chunk.sha256;
      }
      return { weights: assembler.finish(digest), bytes: assembler.received };
    } catch (error) {
      const code = (error as grpc.ServiceError).code;
      const transient = code === grpc.status.UNAVAILABLE || code === grpc.status.DEADLINE_EXCEEDED || code === grpc.status.INTERNAL;
      if (!transient || attempt >= DOWNLOAD_ATTEMPTS) throw error;
    }
  }
}

/** Streams an update: header, chunks of at most `chunkSize`, trailer with the SHA-256 of all bytes. */
export async function uploadUpdate(
  client: Client, metadata: grpc.Metadata, weights: WeightSet, chunkSize: number,
  header: { round: number; numExamples: number; metrics: Record<string, number>; trainSeconds: number },
): Promise<{ response: UploadResponse; bytes: number }> {
  const bytes = packWeights(weights);
  const sha256 = createHash("sha256").update(bytes).digest("hex");
  let call!: grpc.ClientWritableStream<UploadMessage>;
  const response = new Promise<UploadResponse>((resolve, reject) => {
    call = client.UploadUpdate(metadata, (error: grpc.ServiceError | null, value: UploadResponse) => (error ? reject(error) : resolve(value))) as grpc.ClientWritableStream<UploadMessage>;
  });
  const write = async (message: UploadMessage) => {
    if (!call.write(message)) await new Promise((resolve) => call.once("drain", resolve));
  };
  try {
    await write({ kind: "header", header } as UploadMessage);
    for (const chunk of chunksOf(bytes, chunkSize)) await write({ kind: "chunk", chunk });
    await write({ kind: "trailer", trailer: { sha256 } });
    call.end();
  } catch {
    // A write failure surfaces as the call's status below.
  }
  return { response: await response, bytes: bytes.byteLength };
}
