import {
  type Manifest, type UpdateEncoding, encodedTensorByteLength, float16ToNumber, tensorByteLength, tensorOffsets, viewAs,
} from "@cohort/tensors";

/**
 * Turns an encoded update stream (float16 or int8 differences from the global model, see
 * @cohort/tensors' update codec) back into the packed float32 bytes of the weights, chunk by
 * chunk, so that everything downstream (finite check, staging, folding) sees plain weights.
 * Chunks may split an element or an int8 tensor's scale anywhere; those bytes are carried over.
 */
export class UpdateDecoder {
  private readonly encodedEnds: number[] = [];
  private readonly decodedStarts: number[];
  private tensor = 0;
  private position = 0;
  private readonly carry = new Uint8Array(4);
  private carried = 0;
  private scale = 0;
  private baseView: Float32Array | undefined;

  constructor(private readonly manifest: Manifest, private readonly encoding: Exclude<UpdateEncoding, "float32">, private readonly base: Uint8Array) {
    let end = 0;
    for (const spec of manifest.tensors) this.encodedEnds.push((end += encodedTensorByteLength(spec, encoding)));
    this.decodedStarts = tensorOffsets(manifest);
    if (base.byteLength !== this.decodedStarts[this.decodedStarts.length - 1]) {
      throw new RangeError(`the base model is ${base.byteLength} bytes, the manifest describes ${this.decodedStarts[this.decodedStarts.length - 1]}`);
    }
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
    this.baseView = undefined;
  }

  private baseValues(): Float32Array {
    if (!this.baseView) {
      const start = this.decodedStarts[this.tensor];
      const length = tensorByteLength(this.manifest.tensors[this.tensor]);
      this.baseView = viewAs("float32", this.base.subarray(start, start + length)) as Float32Array;
    }
    return this.baseView;
  }

  /** Decodes `piece`, which starts `inTensor` encoded bytes into the current float32 tensor. */
  private decodeFloat32(piece: Uint8Array, inTensor: number, out: DataView, written: number): number {
    const base = this.baseValues();
    let i = 0;
    if (this.encoding === "float16") {
      let element = (inTensor - this.carried) / 2;
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
    let position = inTensor;
    while (position < 4 && i < piece.byteLength) {
      this.carry[position] = piece[i];
      position += 1;
      i += 1;
      if (position === 4) this.scale = new DataView(this.carry.buffer).getFloat32(0, true);
    }
    for (let element = position - 4; i < piece.byteLength; i++, element++, written += 4) {
      const q = (piece[i] << 24) >> 24;
      out.setFloat32(written, Math.fround(q * this.scale) + base[element], true);
    }
    return written;
  }
}
