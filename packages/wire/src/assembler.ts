import { type Manifest, type WeightSet, manifestByteLength, unpackWeights } from "@cohort/tensors";
import { type ByteChunk, ChunkSequence } from "./chunking.js";
import { Crc32, formatCrc32 } from "./checksum.js";

/**
 * Rebuilds a WeightSet from a chunk stream (the party's side of a download): checks order and
 * bounds against the manifest, which alone sizes the buffer, and verifies the CRC-32 at the end.
 */
export class WeightAssembler {
  private readonly bytes: Uint8Array;
  private readonly sequence: ChunkSequence;
  private readonly checksum = new Crc32();

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
    this.checksum.update(chunk.data);
  }

  /** Whether every byte of the model has arrived. */
  get complete(): boolean {
    return this.sequence.complete;
  }

  /** The assembled weights; throws when bytes are missing or the checksum differs. */
  finish(expectedCrc32: number): WeightSet {
    if (!this.sequence.complete) {
      throw new RangeError(`received ${this.sequence.received} of ${this.sequence.totalBytes} bytes`);
    }
    const actual = this.checksum.value;
    if (actual !== expectedCrc32) throw new RangeError(`CRC-32 mismatch: the model's last chunk says ${formatCrc32(expectedCrc32)}, its bytes give ${formatCrc32(actual)}`);
    return unpackWeights(this.manifest, this.bytes);
  }
}
