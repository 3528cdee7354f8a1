import { createHash, type Hash } from "node:crypto";
import { type Manifest, type WeightSet, manifestByteLength, unpackWeights } from "@cohort/tensors";
import { type ByteChunk, ChunkSequence } from "./chunking.js";

/**
 * Rebuilds a WeightSet from a chunk stream (the party's side of a download): checks order and
 * bounds against the manifest, which alone sizes the buffer, and verifies the SHA-256 at the end.
 */
export class WeightAssembler {
  private readonly bytes: Uint8Array;
  private readonly sequence: ChunkSequence;
  private readonly hash: Hash = createHash("sha256");

  constructor(readonly manifest: Manifest, maxChunkBytes: number) {
    const total = manifestByteLength(manifest);
    this.bytes = new Uint8Array(total);
    this.sequence = new ChunkSequence(total, maxChunkBytes);
  }

  get received(): number {
    return this.sequence.received;
  }

  add(chunk: ByteChunk): void {
    this.sequence.accept(chunk);
    this.bytes.set(chunk.data, chunk.offset);
    this.hash.update(chunk.data);
  }

  /** The assembled weights; throws when bytes are missing or the digest differs. */
  finish(expectedSha256: string): WeightSet {
    if (!this.sequence.complete) {
      throw new RangeError(`received ${this.sequence.received} of ${this.sequence.totalBytes} bytes`);
    }
    const actual = this.hash.digest("hex");
    if (actual !== expectedSha256) throw new RangeError(`SHA-256 mismatch: expected ${expectedSha256}, computed ${actual}`);
    return unpackWeights(this.manifest, this.bytes);
  }
}
