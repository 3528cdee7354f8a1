import {
  type Manifest, type UpdateEncoding, encodedTensorByteLength, float16ToNumber, tensorByteLength, tensorOffsets, viewAs,
} from "@cohort/tensors";

/**
 * Turns an encoded update stream (float16 or int8 differences from the global model, see
 * @cohort/tensors' update codec) back into the packed float32 bytes of the weights, chunk by
 * chunk, so that everything downstream (finite check, staging, folding) sees plain weights.
 * Chunks may split an element or an int8 tensor's scale anywhere; those bytes are carried over.
 */
/** `length` bytes of the packed base model from byte `offset`. */
export type BaseReader = (offset: number, length: number) => Uint8Array;

export class UpdateDecoder {
  private readonly encodedEnds: number[] = [];
  private readonly decodedStarts: number[];
  private tensor = 0;
  private position = 0;
  private readonly carry = new Uint8Array(4);
  private carried = 0;
  private scale = 0;
  private readonly readBase: BaseReader;

  /**
   * `base`: the packed global weights the update is a difference from, or a reader of a byte
   * range of them (so a large model need not be in memory: only the slice a chunk needs is read).
   */
  constructor(private readonly manifest: Manifest, private readonly encoding: Exclude<UpdateEncoding, "float32">, base: Uint8Array | BaseReader, baseBytes = base instanceof Uint8Array ? base.byteLength : undefined) {
    let end = 0;
    for (const spec of manifest.tensors) this.encodedEnds.push((end += encodedTensorByteLength(spec, encoding)));
    this.decodedStarts = tensorOffsets(manifest);
    const expected = this.decodedStarts[this.decodedStarts.length - 1];
    if (baseBytes !== undefined && baseBytes !== expected) {
      throw new RangeError(`the base model is ${baseBytes} bytes, the manifest describes ${expected}`);
    }
    this.readBase = base instanceof Uint8Array ? (offset, length) => base.subarray(offset, offset + length) : base;
  }

  /** The decoded bytes this chunk completes (chunks must arrive in order, within the encoded size). */
  push(chunk: Uint8Array): Uint8Array {
    // A float16 element (2 bytes) becomes 4, an int8 one (1 byte) 4: at most 4 times the input.
    const out = new Uint8Array(chunk.byteLength * 4 + 8);
    const view = new DataView(out.buffer);
    let written = 0;
    let cursor = 0;
    while (cursor < chunk.byteLength) {
      if (this.tensor >= this.manifest.tensors.length) throw new RangeError("update bytes past the end of the manifest");
      const spec = this.manifest.tensors[this.tensor];
      const start = this.tensor === 0 ? 0 : this.encodedEnds[this.tensor - 1];
      const end = this.encodedEnds[this.tensor];
      const take = Math.min(end - this.position, chunk.byteLength - cursor);
      const piece = chunk.subarray(cursor, cursor + take);
      if (spec.dtype !== "float32") {
        out.set(piece, written);
        written += take;
      } else {
        written = this.decodeFloat32(piece, this.position - start, view, written);
      }
      cursor += take;
      this.position += take;
      if (this.position === end) this.nextTensor();
    }
    return out.subarray(0, written);
  }

  /** True once every tensor's bytes have arrived. */
  get complete(): boolean {
    return this.tensor === this.manifest.tensors.length;
  }

  private nextTensor(): void {
    this.tensor += 1;
    this.carried = 0;
  }

  /** Base values of elements [first, first + count) of the current tensor. */
  private baseValues(first: number, count: number): Float32Array {
    if (count <= 0) return new Float32Array(0);
    const start = this.decodedStarts[this.tensor] + first * 4;
    if (first + count > tensorByteLength(this.manifest.tensors[this.tensor]) / 4) throw new RangeError("update bytes past the end of a tensor");
    return viewAs("float32", this.readBase(start, count * 4)) as Float32Array;
  }

  /** Decodes `piece`, which starts `inTensor` encoded bytes into the current float32 tensor. */
  private decodeFloat32(piece: Uint8Array, inTensor: number, out: DataView, written: number): number {
    let i = 0;
    if (this.encoding === "float16") {
      const first = (inTensor - this.carried) / 2;
      const base = this.baseValues(first, Math.floor((this.carried + piece.byteLength) / 2));
      let element = 0;
      if (this.carried === 1) {
        const bits = this.carry[0] | (piece[0] << 8);
        out.setFloat32(written, float16ToNumber(bits) + base[element], true);
        written += 4;
        element += 1;
        i = 1;
        this.carried = 0;
      }
      for (; i + 1 < piece.byteLength; i += 2, element++, written += 4) {
        out.setFloat32(written, float16ToNumber(piece[i] | (piece[i + 1] << 8)) + base[element], true);
      }
      if (i < piece.byteLength) {
        this.carry[0] = piece[i];
        this.carried = 1;
      }
      return written;
    }
    // int8: a 4-byte float32 scale, then one signed byte per element.
    const headerLeft = Math.max(0, Math.min(4 - inTensor, piece.byteLength));
    const base = this.baseValues(Math.max(0, inTensor - 4), piece.byteLength - headerLeft);
    let position = inTensor;
    while (position < 4 && i < piece.byteLength) {
      this.carry[position] = piece[i];
      position += 1;
      i += 1;
      if (position === 4) this.scale = new DataView(this.carry.buffer).getFloat32(0, true);
    }
    for (let element = 0; i < piece.byteLength; i++, element++, written += 4) {
      const q = (piece[i] << 24) >> 24;
      out.setFloat32(written, Math.fround(q * this.scale) + base[element], true);
    }
    return written;
  }
}
