/** A slice of a model's packed bytes. */
export interface ByteChunk {
  offset: number;
  data: Uint8Array;
}

/**
 * Splits packed bytes into chunks of at most `chunkSize`, starting at `startOffset`
 * (a resumed download). The chunks are views: nothing is copied.
 */
export function* chunksOf(bytes: Uint8Array, chunkSize: number, startOffset = 0): Generator<ByteChunk> {
  if (!Number.isSafeInteger(chunkSize) || chunkSize <= 0) throw new RangeError(`chunk size must be a positive integer, got ${chunkSize}`);
  if (!Number.isSafeInteger(startOffset) || startOffset < 0 || startOffset > bytes.byteLength) {
    throw new RangeError(`offset ${startOffset} is outside the ${bytes.byteLength} bytes of the model`);
  }
  for (let offset = startOffset; offset < bytes.byteLength; offset += chunkSize) {
    yield { offset, data: bytes.subarray(offset, Math.min(offset + chunkSize, bytes.byteLength)) };
  }
}

/**
 * Checks that chunks arrive in order, without gaps or overlaps, within the expected total and
 * size limit. Throws a RangeError describing the first violation.
 */
export class ChunkSequence {
  private next: number;

  constructor(readonly totalBytes: number, readonly maxChunkBytes: number, startOffset = 0) {
    this.next = startOffset;
  }

  get received(): number {
    return this.next;
  }

  get complete(): boolean {
    return this.next === this.totalBytes;
  }

  accept(chunk: ByteChunk): void {
    const length = chunk.data.byteLength;
    if (chunk.offset !== this.next) throw new RangeError(`chunk at offset ${chunk.offset}, expected ${this.next}`);
    if (length === 0) throw new RangeError(`empty chunk at offset ${chunk.offset}`);
    if (length > this.maxChunkBytes) throw new RangeError(`chunk of ${length} bytes exceeds the ${this.maxChunkBytes}-byte limit`);
    if (this.next + length > this.totalBytes) {
      throw new RangeError(`chunk at offset ${chunk.offset} of ${length} bytes runs past the model's ${this.totalBytes} bytes`);
    }
    this.next += length;
  }
}
