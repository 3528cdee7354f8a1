import { createHash } from "node:crypto";
import { type Manifest, manifestByteLength } from "@cohort/tensors";
import { type StagedBytes, type UpdateStaging } from "@cohort/fusion";
import { ChunkSequence, FiniteCheck, type UpdateHeader, type UploadMessage, invalidArgument } from "@cohort/wire";
import { DEFAULT_LIMITS } from "./limits.js";

export interface ReceivedUpdate {
  header: UpdateHeader;
  staged: StagedBytes;
  bytes: number;
}

/** Largest example count a party may claim: keeps FedAvg weights finite and meaningful. */
export const MAX_NUM_EXAMPLES = DEFAULT_LIMITS.maxNumExamples;
/** Most training metrics an update header may carry. */
export const MAX_METRICS = DEFAULT_LIMITS.maxMetrics;

/**
 * Reads one upload (header, chunks, trailer) into staging and verifies it: chunk order and
 * bounds against the manifest (which alone sizes the staging), SHA-256, finite values. `admit`
 * vets the header (round, party) before any byte is staged. On any failure the staged bytes are
 * dropped and a FederationError says why; only a complete, verified update is returned.
 */
export async function receiveUpload(
  messages: AsyncIterable<UploadMessage>,
  options: { manifest: Manifest; chunkSize: number; staging: UpdateStaging; admit: (header: UpdateHeader) => void },
): Promise<ReceivedUpdate> {
  const iterator = messages[Symbol.asyncIterator]();
  const first = await iterator.next();
  if (first.done || first.value.kind !== "header") throw invalidArgument("an upload must start with a header");
  const header = first.value.header;
  checkHeader(header);
  options.admit(header);

  const total = manifestByteLength(options.manifest);
  const sequence = new ChunkSequence(total, options.chunkSize);
  const finite = new FiniteCheck(options.manifest);
  const hash = createHash("sha256");
  const writer = await options.staging.begin(total);
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
        hash.update(message.chunk.data);
        finite.add(message.chunk.data);
        await writer.write(message.chunk.data);
      } else if (message.kind === "trailer") {
        if (!sequence.complete) throw invalidArgument(`trailer after ${sequence.received} of ${total} bytes`);
        const digest = hash.digest("hex");
        if (digest !== message.trailer.sha256) throw invalidArgument(`SHA-256 mismatch: trailer says ${message.trailer.sha256.slice(0, 16)}..., bytes hash to ${digest.slice(0, 16)}...`);
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
