import { type Manifest, bytesPerElement, tensorOffsets } from "@cohort/tensors";
import { FOLD_SLICE_BYTES } from "./accumulator.js";
import { decodeInto, encodeInto, isFloat, slicePlan } from "./numeric-slices.js";
import type { StagedBytes } from "./staging.js";
import type { ModelSlices } from "./strategy.js";

const NORM_SLICE_ELEMENTS = FOLD_SLICE_BYTES / 8;

/**
 * The L2 norm of an update's change to the global model, ||update - previous||, over its
 * floating-point tensors, read slice by slice (memory: a few slices, whatever the model).
 */
export async function updateNorm(manifest: Manifest, staged: StagedBytes, previous: ModelSlices): Promise<number> {
  const a = new Float64Array(NORM_SLICE_ELEMENTS);
  const b = new Float64Array(NORM_SLICE_ELEMENTS);
  let squares = 0;
  for (const entry of slicePlan(manifest, NORM_SLICE_ELEMENTS)) {
    if (!isFloat(entry.dtype)) continue;
    decodeInto(entry.dtype, await staged.read(entry.offset, entry.bytes), a);
    decodeInto(entry.dtype, await previous.read(entry.offset, entry.bytes), b);
    for (let j = 0; j < entry.elements; j++) {
      const d = a[j] - b[j];
      squares += d * d;
    }
  }
  return Math.sqrt(squares);
}

/**
 * A staged update clipped to norm `scale * ||update - previous||`: reads give previous +
 * scale * (update - previous) for floating-point tensors, the update's own bytes for the others.
 * Reads must lie within one tensor (the fold's and the strategies' slices do).
 */
export class ClippedUpdate implements StagedBytes {
  private readonly offsets: number[];
  private a = new Float64Array(0);
  private b = new Float64Array(0);
  private out = new Uint8Array(0);

  constructor(private readonly manifest: Manifest, private readonly staged: StagedBytes, private readonly previous: ModelSlices, readonly scale: number) {
    this.offsets = tensorOffsets(manifest);
  }

  get size(): number {
    return this.staged.size;
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    let i = 0;
    while (this.offsets[i + 1] <= offset) i++;
    if (offset + length > this.offsets[i + 1]) throw new RangeError(`a clipped update is read within one tensor (offset ${offset}, ${length} bytes)`);
    const dtype = this.manifest.tensors[i].dtype;
    const bytes = await this.staged.read(offset, length);
    if (!isFloat(dtype)) return bytes;
    const n = length / bytesPerElement(dtype);
    if (this.a.length < n) {
      this.a = new Float64Array(n);
      this.b = new Float64Array(n);
      this.out = new Uint8Array(length);
    }
    decodeInto(dtype, bytes, this.a);
    decodeInto(dtype, await this.previous.read(offset, length), this.b);
    const x = this.a.subarray(0, n);
    for (let j = 0; j < n; j++) x[j] = this.b[j] + this.scale * (x[j] - this.b[j]);
    if (this.out.byteLength < length) this.out = new Uint8Array(length);
    return encodeInto(dtype, x, this.out);
  }

  release(): Promise<void> {
    return this.staged.release();
  }
}
