/** A readable staged upload (the aggregator's StagedBytes): bytes by range. */
export interface ByteSource {
  readonly size: number;
  read(offset: number, length: number): Promise<Uint8Array>;
}

/** Bytes read from a staged masked update per step: bounded, whatever the model's size. */
export const MASKED_SLICE_BYTES = 4 * 1024 * 1024;

/**
 * The running sum, modulo 2^32, of the round's masked updates: one uint32 per model element (half
 * the float64 accumulator's memory), each upload added slice by slice as it arrives and then
 * released. The sum of masked vectors is as random as each of them until the masks are removed.
 */
export class MaskedSum {
  readonly sum: Uint32Array;
  private added = 0;

  constructor(readonly elements: number) {
    this.sum = new Uint32Array(elements);
  }

  get count(): number {
    return this.added;
  }

  reset(): void {
    this.sum.fill(0);
    this.added = 0;
  }

  /** Adds one staged masked update (4 bytes per element, little-endian). */
  async add(update: ByteSource, sliceBytes = MASKED_SLICE_BYTES): Promise<void> {
    if (update.size !== this.elements * 4) throw new RangeError(`a masked update is ${this.elements * 4} bytes, got ${update.size}`);
    const step = Math.max(4, Math.floor(sliceBytes / 4) * 4);
    for (let at = 0; at < update.size; at += step) {
      const bytes = await update.read(at, Math.min(step, update.size - at));
      // A copy when the slice is not 4-aligned in its buffer (a Uint32Array view needs alignment).
      const aligned = bytes.byteOffset % 4 === 0 ? bytes : bytes.slice();
      const words = new Uint32Array(aligned.buffer, aligned.byteOffset, aligned.byteLength / 4);
      const out = this.sum.subarray(at / 4, at / 4 + words.length);
      for (let i = 0; i < words.length; i++) out[i] = out[i] + words[i];
    }
    this.added++;
  }
}
