import { type Manifest, type UpdateEncoding, encodedByteLength, isUpdateEncoding, manifestByteLength } from "@cohort/tensors";
import { type StagedBytes, type UpdateStaging } from "@cohort/fusion";
import { type BaseReader, ChunkSequence, Crc32, FiniteCheck, formatCrc32, UpdateDecoder, type UpdateHeader, type UploadMessage, failedPrecondition, invalidArgument } from "@cohort/wire";
import { MASKED_UPDATE_ENCODING } from "@cohort/secagg";
import { DEFAULT_LIMITS } from "./limits.js";

export interface ReceivedUpdate {
  header: UpdateHeader;
  staged: StagedBytes;
  /** Bytes received on the wire (encoded); the staged update is always packed float32 weights. */
  bytes: number;
}

export interface UploadOptions {
  manifest: Manifest;
  chunkSize: number;
  staging: UpdateStaging;
  admit: (header: UpdateHeader) => void;
  /** The federation's update encoding (initial weights, round 0, are always float32). */
  encoding?: UpdateEncoding;
  /**
   * Packed global weights of a round (or a reader of byte ranges of them, e.g. positional reads
   * of its checkpoint file): the base a compressed update of the next round is a difference from.
   */
  base?: (round: number) => Uint8Array | BaseReader | undefined;
}

/**
 * Memory one upload in flight holds in the aggregator outside staging, when its handler keeps up:
 * grpc-js reassembles a chunk message from the HTTP/2 DATA frames (one chunk), the chunk being
 * staged (one; a file write keeps it until done), the next one read ahead (one), plus the stream's
 * 64 KiB receive window (an upload that gets the wide window, `UploadWindows`, holds its extra
 * bytes too). Charged against staging's memory budget while the upload runs (`UpdateStaging.hold`).
 * A handler that lags lets grpc-js read up to 16 messages ahead (the call is an object-mode
 * Readable); capping that at one did not lower peak RSS in `bench/run.mjs --only=rss --full`.
 */
export function receiveBufferBytes(chunkSize: number): number {
  return 3 * chunkSize + 64 * 1024;
}

/** Largest example count a party may claim: keeps FedAvg weights finite and meaningful. */
export const MAX_NUM_EXAMPLES = DEFAULT_LIMITS.maxNumExamples;
/** Most training metrics an update header may carry. */
export const MAX_METRICS = DEFAULT_LIMITS.maxMetrics;

/**
 * Reads one upload (header, chunks, trailer) into staging and verifies it: chunk order and
 * bounds against the manifest (which alone sizes the staging), CRC-32, finite values. `admit`
 * vets the header (round, party) before any byte is staged. On any failure the staged bytes are
 * dropped and a FederationError says why; only a complete, verified update is returned.
 */
export async function receiveUpload(
  messages: AsyncIterable<UploadMessage>,
  options: UploadOptions,
): Promise<ReceivedUpdate> {
  const iterator = messages[Symbol.asyncIterator]();
  const first = await iterator.next();
  if (first.done || first.value.kind !== "header") throw invalidArgument("an upload must start with a header");
  const header = first.value.header;
  checkHeader(header);
  options.admit(header);
  // A masked update (secure aggregation; admit checked that its round is secure): one uint32 of
  // Z_2^32 per float32 element, as many bytes as the model, uniformly random: no finite check.
  const masked = header.encoding === MASKED_UPDATE_ENCODING;
  const encoding = masked ? "float32" : headerEncoding(header, options.encoding ?? "float32");
  let decoder: UpdateDecoder | undefined;
  if (encoding !== "float32") {
    const base = options.base?.(header.round - 1);
    if (!base) throw failedPrecondition(`the global model of round ${header.round - 1}, which a ${encoding} update is a difference from, is no longer held`);
    decoder = new UpdateDecoder(options.manifest, encoding, base);
  }

  // Sizes come from the manifest and the encoding alone, never from the peer.
  const total = encodedByteLength(options.manifest, encoding);
  const sequence = new ChunkSequence(total, options.chunkSize);
  const finite = new FiniteCheck(options.manifest);
  const checksum = new Crc32();
  const writer = await options.staging.begin(manifestByteLength(options.manifest));
  try {
    for (;;) {
      const next = await iterator.next();
      if (next.done) throw invalidArgument(`upload ended after ${sequence.received} of ${total} bytes without a trailer`);
      const message = next.value;
      if (message.kind === "chunk") {
        try {
          sequence.accept(message.chunk);
        } catch (error) {
          throw invalidArgument((error as Error).message);
        }
        checksum.update(message.chunk.data);
        const plain = decoder ? decoder.push(message.chunk.data) : message.chunk.data;
        if (!masked) finite.add(plain);
        await writer.write(plain);
      } else if (message.kind === "trailer") {
        if (!sequence.complete) throw invalidArgument(`trailer after ${sequence.received} of ${total} bytes`);
        const claimed = message.trailer.crc32;
        if (claimed !== checksum.value) throw invalidArgument(`CRC-32 mismatch: the trailer says ${formatCrc32(claimed)}, the bytes give ${formatCrc32(checksum.value)}`);
        if (finite.firstNonFinite !== undefined) throw invalidArgument(`tensor ${finite.firstNonFinite} holds NaN or infinite values`);
        const extra = await iterator.next();
        if (!extra.done) throw invalidArgument("message after the trailer");
        return { header, staged: await writer.commit(), bytes: total };
      } else {
        throw invalidArgument("a second header in one upload");
      }
    }
  } catch (error) {
    await writer.abort();
    throw error;
  }
}

function checkHeader(header: UpdateHeader): void {
  if (!Number.isSafeInteger(header.numExamples) || header.numExamples < 1 || header.numExamples > MAX_NUM_EXAMPLES) {
    throw invalidArgument(`num_examples must be an integer in [1, ${MAX_NUM_EXAMPLES}], got ${header.numExamples}`);
  }
  if (!Number.isFinite(header.trainSeconds) || header.trainSeconds < 0) throw invalidArgument("train_seconds must be a finite, non-negative number");
  const keys = Object.keys(header.metrics ?? {});
  if (keys.length > MAX_METRICS || keys.some((k) => k.length > DEFAULT_LIMITS.maxMetricNameBytes)) throw invalidArgument(`at most ${MAX_METRICS} metrics with names of at most ${DEFAULT_LIMITS.maxMetricNameBytes} characters`);
}

/** The upload's encoding, which must be the federation's (float32 for initial weights). */
function headerEncoding(header: UpdateHeader, federation: UpdateEncoding): UpdateEncoding {
  const claimed = header.encoding || "float32";
  const expected = header.round === 0 ? "float32" : federation;
  if (claimed !== expected) {
    const known = isUpdateEncoding(claimed) ? "" : ` (not an encoding: float32, float16 or int8)`;
    throw invalidArgument(`update encoding "${claimed.slice(0, 32)}"${known}: this federation takes ${header.round === 0 ? "initial weights" : "updates"} as ${expected}`);
  }
  return expected;
}
