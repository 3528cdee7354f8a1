import { type DType, type Manifest, bytesPerElement, elementCount, float16ToNumber, manifestByteLength, numberToFloat16, tensorOffsets, viewAs } from "@cohort/tensors";
import type { StagedBytes } from "./staging.js";
import { type FoldKernels, kernelMemory } from "./simd.js";

/** Bytes read from a staged update per step of a fold: large enough to amortise I/O, small enough to bound memory. */
export const FOLD_SLICE_BYTES = 4 * 1024 * 1024;

/** Float64 sums per accumulator segment: a WebAssembly memory holds at most 4 GiB, so larger models take several. */
const SEGMENT_ELEMENTS = 2 ** 27;
/** The fold copies float32 values into a scratch area of the segment's memory in blocks of this size (cache-resident). */
const SCRATCH_BYTES = 256 * 1024;
const SCRATCH_ELEMENTS = SCRATCH_BYTES / 4;

/** A slice of the accumulator: float64 sums (in a WebAssembly memory with a float32 scratch area when SIMD kernels run). */
interface Segment {
  sums: Float64Array;
  kernels?: FoldKernels;
  /** Byte offset of sums[0] in the WebAssembly memory (the scratch area is at 0). */
  sumsAt: number;
  scratch?: Uint8Array;
  scratchFloats?: Float32Array;
}

function segment(elements: number, simd: boolean): Segment {
  const wasm = elements > 0 && simd ? kernelMemory(SCRATCH_BYTES + 8 * elements) : undefined;
  if (wasm) {
    const { buffer } = wasm.memory;
    return {
      sums: new Float64Array(buffer, SCRATCH_BYTES, elements), kernels: wasm.kernels, sumsAt: SCRATCH_BYTES,
      scratch: new Uint8Array(buffer, 0, SCRATCH_BYTES), scratchFloats: new Float32Array(buffer, 0, SCRATCH_ELEMENTS),
    };
  }
  return { sums: new Float64Array(elements), sumsAt: 0 };
}

/**
 * A running weighted sum of updates in float64, one accumulator per model. `fold` adds
 * weight * update; `result` divides by the total weight and writes the manifest's dtypes.
 * Float32 tensors (nearly all of a model) go through WebAssembly SIMD kernels (simd.ts), bit
 * for bit the same arithmetic as the plain loops they replace.
 */
export class WeightedSum {
  private readonly segments: Segment[] = [];
  private readonly offsets: number[];
  private readonly elementStarts: number[];
  private total = 0;
  private folded = 0;
  /** No update folded since construction or reset(): the next fold writes w * x instead of adding to stale sums. */
  private fresh = true;

  private readonly segmentElements: number;

  /** `options` are for tests: `simd: false` takes the JS loops, `segmentElements` splits the sums into smaller segments. */
  constructor(readonly manifest: Manifest, options: { simd?: boolean; segmentElements?: number } = {}) {
    this.segmentElements = options.segmentElements ?? SEGMENT_ELEMENTS;
    this.offsets = tensorOffsets(manifest);
    this.elementStarts = [0];
    for (const t of manifest.tensors) this.elementStarts.push(this.elementStarts[this.elementStarts.length - 1] + elementCount(t.shape));
    const elements = this.elementStarts[this.elementStarts.length - 1];
    for (let at = 0; at < elements || this.segments.length === 0; at += this.segmentElements) {
      this.segments.push(segment(Math.min(this.segmentElements, elements - at), options.simd ?? true));
    }
  }

  get totalWeight(): number {
    return this.total;
  }

  get count(): number {
    return this.folded;
  }

  /**
   * Empties the sum for the next round, keeping its float64 buffer: an aggregator reuses one
   * WeightedSum, so the accumulator's pages are faulted in once, not every round (a fresh
   * Float64Array made the first fold of each round 3-4x slower than the later ones). Nothing
   * is zeroed: the round's first fold stores w * x over every element instead of adding.
   */
  reset(): void {
    this.fresh = true;
    this.total = 0;
    this.folded = 0;
  }

  /** Adds `weight` times the staged update, read in bounded slices aligned to each tensor's elements. */
  async fold(update: StagedBytes, weight: number): Promise<void> {
    if (!(weight > 0) || !Number.isFinite(weight)) throw new RangeError(`update weight must be positive and finite, got ${weight}`);
    if (update.size !== manifestByteLength(this.manifest)) {
      throw new RangeError(`update of ${update.size} bytes does not match the model's ${manifestByteLength(this.manifest)}`);
    }
    // A first fold that fails part way leaves the sum fresh: the next one overwrites every element.
    const init = this.fresh;
    for (let i = 0; i < this.manifest.tensors.length; i++) {
      const dtype = this.manifest.tensors[i].dtype;
      const size = bytesPerElement(dtype);
      const slice = Math.max(size, FOLD_SLICE_BYTES - (FOLD_SLICE_BYTES % size));
      for (let at = this.offsets[i]; at < this.offsets[i + 1]; at += slice) {
        const length = Math.min(slice, this.offsets[i + 1] - at);
        const bytes = await update.read(at, length);
        const start = this.elementStarts[i] + (at - this.offsets[i]) / size;
        if (dtype === "float32") this.addFloat32(start, bytes, weight, init);
        else this.eachRange(start, length / size, ({ sums }, from, n, first) => addScaled(sums, from, dtype, bytes.subarray(first * size, (first + n) * size), weight, init));
      }
    }
    this.fresh = false;
    this.total += weight;
    this.folded++;
  }

  /** The weighted mean, packed in manifest order and dtypes; into `out` (reused by the caller) when given. */
  result(out?: Uint8Array): Uint8Array {
    if (this.total <= 0 || this.fresh) throw new RangeError("no update was folded: the weighted mean is undefined");
    const length = manifestByteLength(this.manifest);
    if (out && out.byteLength !== length) throw new RangeError(`result buffer of ${out.byteLength} bytes, the model has ${length}`);
    out ??= new Uint8Array(length);
    const scale = 1 / this.total;
    this.manifest.tensors.forEach((t, i) => {
      const target = out.subarray(this.offsets[i], this.offsets[i + 1]);
      const size = bytesPerElement(t.dtype);
      // A tensor packed at an offset that is not a multiple of its element size (after an odd
      // float16 or int8 tensor, say) is written aligned and copied: a typed view there would be a copy.
      const bytes = target.byteOffset % size === 0 ? target : new Uint8Array(target.byteLength);
      if (t.dtype === "float32") {
        this.meanFloat32(this.elementStarts[i], bytes, scale);
      } else {
        this.eachRange(this.elementStarts[i], bytes.byteLength / size, ({ sums }, from, n, first) =>
          writeMean(viewAs(t.dtype, bytes.subarray(first * size, (first + n) * size)), t.dtype, sums, from, scale));
      }
      if (bytes !== target) target.set(bytes);
    });
    return out;
  }

  /** Calls `fn(segment, from, n, first)` for each segment's part of elements [start, start + count); `first` counts from start. */
  private eachRange(start: number, count: number, fn: (segment: Segment, from: number, n: number, first: number) => void): void {
    for (let done = 0; done < count;) {
      const s = Math.floor((start + done) / this.segmentElements);
      const from = start + done - s * this.segmentElements;
      const n = Math.min(count - done, this.segmentElements - from);
      fn(this.segments[s], from, n, done);
      done += n;
    }
  }

  /** sums[start ..] (+)= weight * float32 `bytes` (any alignment): copied block by block into the scratch area, then the SIMD kernel. */
  private addFloat32(start: number, bytes: Uint8Array, weight: number, init: boolean): void {
    this.eachRange(start, bytes.byteLength / 4, ({ sums, kernels, sumsAt, scratch, scratchFloats }, from, n, first) => {
      if (!kernels || !scratch || !scratchFloats) {
        addScaledFloat32(sums, from, viewAs("float32", bytes.subarray(first * 4, (first + n) * 4)) as Float32Array, weight, init);
        return;
      }
      const kernel = init ? kernels.init : kernels.fold;
      for (let k = 0; k < n; k += SCRATCH_ELEMENTS) {
        const block = Math.min(SCRATCH_ELEMENTS, n - k);
        scratch.set(bytes.subarray((first + k) * 4, (first + k + block) * 4));
        const vectorised = block & ~7;
        kernel(sumsAt + 8 * (from + k), 0, vectorised >>> 3, weight);
        for (let j = vectorised; j < block; j++) sums[from + k + j] = (init ? 0 : sums[from + k + j]) + weight * scratchFloats[j];
      }
    });
  }

  /** float32 `bytes` = sums[start ..] * scale: the SIMD kernel writes a block into the scratch area, copied out. */
  private meanFloat32(start: number, bytes: Uint8Array, scale: number): void {
    this.eachRange(start, bytes.byteLength / 4, ({ sums, kernels, sumsAt, scratch, scratchFloats }, from, n, first) => {
      if (!kernels || !scratch || !scratchFloats) {
        writeMeanFloat32(viewAs("float32", bytes.subarray(first * 4, (first + n) * 4)) as Float32Array, sums.subarray(from, from + n), scale);
        return;
      }
      for (let k = 0; k < n; k += SCRATCH_ELEMENTS) {
        const block = Math.min(SCRATCH_ELEMENTS, n - k);
        const vectorised = block & ~7;
        kernels.mean(0, sumsAt + 8 * (from + k), vectorised >>> 3, scale);
        for (let j = vectorised; j < block; j++) scratchFloats[j] = sums[from + k + j] * scale;
        bytes.set(scratch.subarray(0, block * 4), (first + k) * 4);
      }
    });
  }
}

/** sums[start + j] (+)= weight * values[j]; `init` (a round's first fold) zeroes the range first, as reset() used to. */
function addScaled(sums: Float64Array, start: number, dtype: DType, bytes: Uint8Array, weight: number, init: boolean): void {
  if (init) sums.fill(0, start, start + bytes.byteLength / bytesPerElement(dtype));
  const values = viewAs(dtype, bytes);
  if (values instanceof Float32Array) {
    addScaledFloat32(sums, start, values, weight, false);
  } else if (values instanceof BigInt64Array) {
    for (let j = 0; j < values.length; j++) sums[start + j] += weight * Number(values[j]);
  } else if (dtype === "float16") {
    for (let j = 0; j < values.length; j++) sums[start + j] += weight * float16ToNumber(values[j] as number);
  } else {
    // float64 and integer tensors.
    const numbers = values as ArrayLike<number>;
    for (let j = 0; j < numbers.length; j++) sums[start + j] += weight * numbers[j];
  }
}

/**
 * The float32 fold where WebAssembly SIMD is unavailable: kept monomorphic, on a subarray of the
 * sum so both arrays share one index (1.5x the former unrolled-by-four loop with `start + j`).
 */
function addScaledFloat32(sums: Float64Array, start: number, values: Float32Array, weight: number, init: boolean): void {
  const n = values.length;
  const target = sums.subarray(start, start + n);
  if (init) for (let j = 0; j < n; j++) target[j] = 0 + weight * values[j];
  else for (let j = 0; j < n; j++) target[j] += weight * values[j];
}

function writeMean(target: ReturnType<typeof viewAs>, dtype: DType, sums: Float64Array, start: number, scale: number): void {
  const n = target.length;
  if (target instanceof BigInt64Array) {
    for (let j = 0; j < n; j++) target[j] = BigInt(Math.round(sums[start + j] * scale));
  } else if (dtype === "float16") {
    for (let j = 0; j < n; j++) target[j] = numberToFloat16(sums[start + j] * scale);
  } else if (dtype === "float32") {
    writeMeanFloat32(target as Float32Array, sums.subarray(start, start + n), scale);
  } else if (dtype === "float64") {
    const t = target as Float64Array;
    for (let j = 0; j < n; j++) t[j] = sums[start + j] * scale;
  } else {
    // Integer tensors (counters such as BatchNorm's num_batches_tracked) take the rounded mean.
    const t = target as Int32Array;
    for (let j = 0; j < n; j++) t[j] = Math.round(sums[start + j] * scale);
  }
}

function writeMeanFloat32(target: Float32Array, sums: Float64Array, scale: number): void {
  const n = target.length;
  for (let j = 0; j < n; j++) target[j] = sums[j] * scale;
}
