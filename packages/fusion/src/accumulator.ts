import { type DType, type Manifest, bytesPerElement, elementCount, float16ToNumber, manifestByteLength, numberToFloat16, tensorOffsets, viewAs } from "@cohort/tensors";
import type { StagedBytes, StagingRegion } from "./staging.js";
import { type FoldKernels, MAX_FOLD_GROUP, kernelMemory } from "./simd.js";

export { MAX_FOLD_GROUP };

/** A staged update and its weight in the mean. */
export interface WeightedUpdate { staged: StagedBytes; weight: number }

/** Bytes read from a staged update per step of a fold: large enough to amortise I/O, small enough to bound memory. */
export const FOLD_SLICE_BYTES = 4 * 1024 * 1024;

/** Float64 sums per accumulator segment: a WebAssembly memory holds at most 4 GiB, so larger models take several. */
const SEGMENT_ELEMENTS = 2 ** 27;
/**
 * The fold copies float32 values into a scratch area of the segment's memory in blocks of this
 * size (cache-resident), shared by the inputs of a pass (each of k inputs gets 1/k of it).
 */
const SCRATCH_BYTES = 256 * 1024;
const SCRATCH_ELEMENTS = SCRATCH_BYTES / 4;
/** Largest WebAssembly memory (32-bit addresses), less a page. */
const MAX_MEMORY_BYTES = 2 ** 32 - 65536;
/** Alignment of arena regions (a v128). */
const ARENA_ALIGN = 16;

/** A slice of the accumulator: float64 sums (in a WebAssembly memory with a float32 scratch area when SIMD kernels run). */
interface Segment {
  sums: Float64Array;
  kernels?: FoldKernels;
  /** Byte offset of sums[0] in the WebAssembly memory (the scratch area is at 0). */
  sumsAt: number;
  scratch?: Uint8Array;
  /** The whole WebAssembly memory as float32 (never grown, so never detached): the scratch area at 0, inputs read in place. */
  heap?: Float32Array;
}

/** A segment; with SIMD kernels, its memory has `arenaBytes` more after the sums (see WeightedSum.allocateStaging). */
function segment(elements: number, simd: boolean, arenaBytes = 0): Segment & { arena?: Arena } {
  const arenaAt = Math.ceil((SCRATCH_BYTES + 8 * elements) / ARENA_ALIGN) * ARENA_ALIGN;
  const wasm = elements > 0 && simd ? kernelMemory(arenaAt + arenaBytes) : undefined;
  if (wasm) {
    const { buffer } = wasm.memory;
    return {
      sums: new Float64Array(buffer, SCRATCH_BYTES, elements), kernels: wasm.kernels, sumsAt: SCRATCH_BYTES,
      scratch: new Uint8Array(buffer, 0, SCRATCH_BYTES), heap: new Float32Array(buffer),
      arena: arenaBytes >= ARENA_ALIGN ? new Arena(buffer, arenaAt, arenaBytes) : undefined,
    };
  }
  return { sums: new Float64Array(elements), sumsAt: 0 };
}

/**
 * First-fit allocator of a region of a WebAssembly memory: ARENA_ALIGN-aligned regions, free
 * ranges kept sorted by offset and coalesced with their neighbours when freed.
 */
class Arena {
  /** Free ranges [at, at + size), sorted by `at`, never adjacent (coalesced). */
  private readonly free: { at: number; size: number }[];
  /** `at`: a multiple of ARENA_ALIGN; `bytes` rounds down to one. */
  constructor(private readonly buffer: ArrayBuffer, at: number, bytes: number) {
    const size = Math.floor(bytes / ARENA_ALIGN) * ARENA_ALIGN;
    this.free = size > 0 ? [{ at, size }] : [];
  }

  /** Bytes free in all (not necessarily in one range). */
  get freeBytes(): number {
    return this.free.reduce((total, r) => total + r.size, 0);
  }

  allocate(bytes: number): StagingRegion | undefined {
    if (!Number.isSafeInteger(bytes) || bytes <= 0) return undefined;
    const size = Math.ceil(bytes / ARENA_ALIGN) * ARENA_ALIGN;
    const i = this.free.findIndex((r) => r.size >= size);
    if (i < 0) return undefined;
    const range = this.free[i];
    const at = range.at;
    if (range.size === size) this.free.splice(i, 1);
    else this.free[i] = { at: at + size, size: range.size - size };
    let freed = false;
    return {
      bytes: new Uint8Array(this.buffer, at, bytes),
      free: () => {
        if (freed) return;
        freed = true;
        this.release(at, size);
      },
    };
  }

  private release(at: number, size: number): void {
    let i = 0;
    while (i < this.free.length && this.free[i].at < at) i++;
    const before = i > 0 ? this.free[i - 1] : undefined;
    const after = i < this.free.length ? this.free[i] : undefined;
    if (before && before.at + before.size === at) {
      before.size += size;
      if (after && before.at + before.size === after.at) {
        before.size += after.size;
        this.free.splice(i, 1);
      }
    } else if (after && at + size === after.at) {
      after.at = at;
      after.size += size;
    } else {
      this.free.splice(i, 0, { at, size });
    }
  }
}

/**
 * A running weighted sum of updates in float64, one accumulator per model. `fold` adds
 * weight * update; `result` divides by the total weight and writes the manifest's dtypes.
 * Float32 tensors (nearly all of a model) go through WebAssembly SIMD kernels (simd.ts), bit
 * for bit the same arithmetic as the plain loops they replace.
 *
 * `foldMany` folds up to MAX_FOLD_GROUP updates in one pass over the sums (fewer bytes of memory
 * traffic per update), adding them element by element in the order given: the result is bit
 * for bit that of folding them one at a time. `foldQueued` is the aggregator's entry: one pass
 * at a time, and updates that arrive while a pass runs are folded together in the next.
 */
export class WeightedSum {
  private readonly segments: Segment[] = [];
  private readonly offsets: number[];
  private readonly elementStarts: number[];
  private total = 0;
  private folded = 0;
  /** No update folded since construction or reset(): the next fold writes w * x instead of adding to stale sums. */
  private fresh = true;
  /** Why the sums hold part of an update: a pass that failed part way after the round's first. */
  private damage: Error | undefined;

  private readonly segmentElements: number;
  private readonly arena: Arena | undefined;

  /**
   * `arenaBytes`: memory reserved after the sums for staged updates (allocateStaging), where the
   * sums fit one segment and SIMD kernels run; the aggregator passes its staging memory budget.
   * The other options are for tests: `simd: false` takes the JS loops, `segmentElements` splits
   * the sums into smaller segments.
   */
  constructor(readonly manifest: Manifest, options: { simd?: boolean; segmentElements?: number; arenaBytes?: number } = {}) {
    this.segmentElements = options.segmentElements ?? SEGMENT_ELEMENTS;
    this.offsets = tensorOffsets(manifest);
    this.elementStarts = [0];
    for (const t of manifest.tensors) this.elementStarts.push(this.elementStarts[this.elementStarts.length - 1] + elementCount(t.shape));
    const elements = this.elementStarts[this.elementStarts.length - 1];
    // The memory is sized once: growing it would detach every view of it (the staged updates' included).
    const requested = Number.isFinite(options.arenaBytes) ? Math.max(0, Math.floor(options.arenaBytes!)) : 0;
    const arenaBytes = elements > 0 && elements <= this.segmentElements ? Math.min(requested, MAX_MEMORY_BYTES - ARENA_ALIGN - SCRATCH_BYTES - 8 * elements) : 0;
    for (let at = 0; at < elements || this.segments.length === 0; at += this.segmentElements) {
      const made = segment(Math.min(this.segmentElements, elements - at), options.simd ?? true, arenaBytes);
      this.arena = made.arena;
      this.segments.push(made);
    }
  }

  /**
   * `bytes` of this accumulator's WebAssembly memory for a staged update, which the fold then
   * reads in place instead of copying it into the scratch area; undefined where there is no
   * arena (several segments, no SIMD, arenaBytes 0) or no free range that large. The region
   * survives reset(); `free` (idempotent) must not be called before every fold reading it
   * has resolved (UpdateStaging frees it on release).
   */
  allocateStaging(bytes: number): StagingRegion | undefined {
    return this.arena?.allocate(bytes);
  }

  /** Arena bytes not allocated (tests). */
  get stagingFreeBytes(): number {
    return this.arena?.freeBytes ?? 0;
  }

  get totalWeight(): number {
    return this.total;
  }

  get count(): number {
    return this.folded;
  }

  /**
   * Set when a pass failed part way after the round's first (a staged file that could not be
   * read, say): the sums then hold part of its updates, which count nowhere, so the round's mean
   * would be silently wrong. result() and resultSlices() refuse until reset().
   */
  get damaged(): Error | undefined {
    return this.damage;
  }

  /**
   * Empties the sum for the next round, keeping its float64 buffer: an aggregator reuses one
   * WeightedSum, so the accumulator's pages are faulted in once, not every round (a fresh
   * Float64Array made the first fold of each round 3-4x slower than the later ones). Nothing
   * is zeroed: the round's first fold stores w * x over every element instead of adding.
   */
  reset(): void {
    if (this.draining) throw new Error("reset() while queued folds are pending: wait for them first");
    this.fresh = true;
    this.total = 0;
    this.folded = 0;
    this.damage = undefined;
  }

  /**
   * Adds `weight` times the staged update, read in bounded slices aligned to each tensor's
   * elements. One pass at a time: not concurrently with another fold of this sum (foldQueued
   * serialises its callers).
   */
  async fold(update: StagedBytes, weight: number): Promise<void> {
    await this.foldMany([{ staged: update, weight }]);
  }

  /**
   * Adds each update times its weight, MAX_FOLD_GROUP at a time per pass over the sums (each
   * pass reads the same slice of each of its updates, then folds them element by element in the
   * order given). The result is bit-identical to folding the updates one at a time in that order.
   * The staged updates must stay readable until it resolves. A pass that fails part way leaves
   * its updates' contributions in part of the sums and marks the sum `damaged`, except in a
   * round's first pass, which leaves the sum fresh.
   */
  async foldMany(updates: readonly WeightedUpdate[]): Promise<void> {
    for (const u of updates) this.check(u.staged, u.weight);
    for (const group of passes(updates)) await this.pass(group);
  }

  /**
   * Folds the update as foldMany does, after the updates queued before it: folds run one pass at
   * a time, and updates queued while a pass runs (or in the same tick) are folded together in
   * the next, up to MAX_FOLD_GROUP per pass. Resolves once the update's pass is done (the caller
   * may release it then); rejects with the error of its pass, or at once for a bad weight or size.
   */
  foldQueued(update: StagedBytes, weight: number): Promise<void> {
    try {
      this.check(update, weight);
    } catch (error) {
      return Promise.reject(error);
    }
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ staged: update, weight, resolve, reject });
      if (!this.draining) {
        this.draining = true;
        queueMicrotask(() => void this.drain());
      }
    });
  }

  /** Updates waiting in foldQueued's queue or being folded by it. */
  get queuedFolds(): number {
    return this.queue.length + this.inPass;
  }

  private readonly queue: (WeightedUpdate & { resolve: () => void; reject: (error: unknown) => void })[] = [];
  private draining = false;
  private inPass = 0;

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const group = this.queue.splice(0, MAX_FOLD_GROUP);
      this.inPass = group.length;
      try {
        await this.foldMany(group);
        this.inPass = 0;
        for (const u of group) u.resolve();
      } catch (error) {
        this.inPass = 0;
        for (const u of group) u.reject(error);
      }
    }
    this.draining = false;
  }

  private check(update: StagedBytes, weight: number): void {
    if (!(weight > 0) || !Number.isFinite(weight)) throw new RangeError(`update weight must be positive and finite, got ${weight}`);
    if (update.size !== manifestByteLength(this.manifest)) {
      throw new RangeError(`update of ${update.size} bytes does not match the model's ${manifestByteLength(this.manifest)}`);
    }
  }

  /** One pass over the sums folding 1 .. MAX_FOLD_GROUP updates (checked by the caller). */
  private async pass(group: readonly WeightedUpdate[]): Promise<void> {
    // A first fold that fails part way leaves the sum fresh: the next one overwrites every element.
    const init = this.fresh;
    const progress = { added: false };
    try {
      await this.addPass(group, init, progress);
    } catch (error) {
      // Only additions damage: a pass that failed before its first (its first read, say) left the sums as they were.
      if (!init && progress.added) this.damage ??= error instanceof Error ? error : new Error(String(error));
      throw error;
    }
    this.fresh = false;
    this.total = group.reduce((total, u) => total + u.weight, this.total);
    this.folded += group.length;
  }

  /** The additions of one pass (pass() keeps the books). */
  private async addPass(group: readonly WeightedUpdate[], init: boolean, progress: { added: boolean }): Promise<void> {
    const weights = group.map((u) => u.weight);
    // A pass reads FOLD_SLICE_BYTES in all, split between its updates: the read buffers of k
    // spilled files (one per file, as big as the largest read) stay those of one single fold.
    const sliceBytes = Math.floor(FOLD_SLICE_BYTES / group.length);
    for (let i = 0; i < this.manifest.tensors.length; i++) {
      const dtype = this.manifest.tensors[i].dtype;
      const size = bytesPerElement(dtype);
      const slice = Math.max(size, sliceBytes - (sliceBytes % size));
      for (let at = this.offsets[i]; at < this.offsets[i + 1]; at += slice) {
        const length = Math.min(slice, this.offsets[i + 1] - at);
        const slices = await Promise.all(group.map((u) => u.staged.read(at, length)));
        progress.added = true;
        const start = this.elementStarts[i] + (at - this.offsets[i]) / size;
        if (dtype === "float32") {
          this.addFloat32(start, slices, weights, init);
        } else {
          // Other dtypes (a few small tensors): the plain loops, one update after the other.
          slices.forEach((bytes, u) => this.eachRange(start, length / size, ({ sums }, from, n, first) =>
            addScaled(sums, from, dtype, bytes.subarray(first * size, (first + n) * size), weights[u], init && u === 0)));
        }
      }
    }
  }

  private checkResult(): void {
    if (this.damage) throw new Error(`the sums hold part of an update whose fold failed (${this.damage.message}): the round's mean would be wrong`);
    if (this.total <= 0 || this.fresh) throw new RangeError("no update was folded: the weighted mean is undefined");
  }

  /** The weighted mean, packed in manifest order and dtypes; into `out` (reused by the caller) when given. */
  result(out?: Uint8Array): Uint8Array {
    this.checkResult();
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

  /**
   * The weighted mean as result() packs it, in consecutive slices of at most `sliceBytes` (each
   * within one tensor, whole elements), written into one reused buffer: a slice is valid until
   * the next is asked for. The aggregator hashes and writes each slice to the checkpoint file,
   * so the packed global model never exists in memory as a whole.
   */
  *resultSlices(sliceBytes = FOLD_SLICE_BYTES): Generator<Uint8Array, void, undefined> {
    this.checkResult();
    const scale = 1 / this.total;
    const buffer = new Uint8Array(Math.max(8, Math.min(sliceBytes, manifestByteLength(this.manifest))));
    for (let i = 0; i < this.manifest.tensors.length; i++) {
      const dtype = this.manifest.tensors[i].dtype;
      const size = bytesPerElement(dtype);
      const slice = Math.max(size, buffer.byteLength - (buffer.byteLength % size));
      for (let at = this.offsets[i]; at < this.offsets[i + 1]; at += slice) {
        const length = Math.min(slice, this.offsets[i + 1] - at);
        const bytes = buffer.subarray(0, length); // offset 0 of its own buffer: aligned for any dtype
        const start = this.elementStarts[i] + (at - this.offsets[i]) / size;
        if (dtype === "float32") this.meanFloat32(start, bytes, scale);
        else this.eachRange(start, length / size, ({ sums }, from, n, first) => writeMean(viewAs(dtype, bytes.subarray(first * size, (first + n) * size)), dtype, sums, from, scale));
        yield bytes;
      }
    }
  }

  /**
   * Calls `perturb(sums)` on the float64 sums of every floating-point tensor, in place, range by
   * range (central DP adds its noise to the clipped sum here, before the mean is taken).
   */
  perturbFloatSums(perturb: (sums: Float64Array) => void): void {
    this.checkResult();
    this.manifest.tensors.forEach((t, i) => {
      if (t.dtype !== "float32" && t.dtype !== "float64" && t.dtype !== "float16") return;
      this.eachRange(this.elementStarts[i], this.elementStarts[i + 1] - this.elementStarts[i], ({ sums }, from, n) => perturb(sums.subarray(from, from + n)));
    });
  }

  /**
   * The float64 weighted mean of elements [start, start + out.length) of the model's flat element
   * order, into `out`: server optimizers step from the unrounded mean.
   */
  meanInto(start: number, out: Float64Array): void {
    this.checkResult();
    const scale = 1 / this.total;
    this.eachRange(start, out.length, ({ sums }, from, n, first) => {
      for (let j = 0; j < n; j++) out[first + j] = sums[from + j] * scale;
    });
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

  /**
   * sums[start ..] (+)= weights[0] * values[0] + weights[1] * values[1] + ..., added in that order, of
   * float32 `slices` (equal lengths, any alignment): copied block by block into the scratch area
   * (one region per input), then the k-input SIMD kernel. A slice that already lies in the
   * segment's memory (staged in its arena), 4-byte aligned, is read where it is, not copied.
   */
  private addFloat32(start: number, slices: Uint8Array[], weights: number[], init: boolean): void {
    const k = slices.length;
    this.eachRange(start, slices[0].byteLength / 4, ({ sums, kernels, sumsAt, scratch, heap }, from, n, first) => {
      if (!kernels || !scratch || !heap) {
        const values = slices.map((bytes) => viewAs("float32", bytes.subarray(first * 4, (first + n) * 4)) as Float32Array);
        addScaledFloat32(sums, from, values, weights, init);
        return;
      }
      const kernel = (init ? kernels.init : kernels.fold)[k];
      // Each input's region of the scratch area: a multiple of 8 elements, so only a slice's last block has a tail.
      const region = Math.floor(SCRATCH_ELEMENTS / k / 8) * 8;
      // Byte offset in the memory of each input's element `first` (in place), or -1 (copied to the scratch area).
      const inPlace = slices.map((bytes) => (bytes.buffer === heap.buffer && bytes.byteOffset % 4 === 0 ? bytes.byteOffset + 4 * first : -1));
      const sources = slices.map((_, u) => 4 * region * u);
      for (let b = 0; b < n; b += region) {
        const block = Math.min(region, n - b);
        slices.forEach((bytes, u) => {
          if (inPlace[u] >= 0) sources[u] = inPlace[u] + 4 * b;
          else scratch.set(bytes.subarray((first + b) * 4, (first + b + block) * 4), sources[u]);
        });
        const vectorised = block & ~7;
        kernel(sumsAt + 8 * (from + b), ...sources, vectorised >>> 3, ...weights);
        for (let j = vectorised; j < block; j++) {
          let sum = init ? 0 : sums[from + b + j];
          for (let u = 0; u < k; u++) sum += weights[u] * heap[sources[u] / 4 + j];
          sums[from + b + j] = sum;
        }
      }
    });
  }

  /** float32 `bytes` = sums[start ..] * scale: the SIMD kernel writes a block into the scratch area, copied out. */
  private meanFloat32(start: number, bytes: Uint8Array, scale: number): void {
    this.eachRange(start, bytes.byteLength / 4, ({ sums, kernels, sumsAt, scratch, heap }, from, n, first) => {
      if (!kernels || !scratch || !heap) {
        writeMeanFloat32(viewAs("float32", bytes.subarray(first * 4, (first + n) * 4)) as Float32Array, sums.subarray(from, from + n), scale);
        return;
      }
      for (let k = 0; k < n; k += SCRATCH_ELEMENTS) {
        const block = Math.min(SCRATCH_ELEMENTS, n - k);
        const vectorised = block & ~7;
        kernels.mean(0, sumsAt + 8 * (from + k), vectorised >>> 3, scale);
        for (let j = vectorised; j < block; j++) heap[j] = sums[from + k + j] * scale;
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
    addScaledFloat32(sums, start, [values], [weight], false);
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

/** Splits updates into passes of at most MAX_FOLD_GROUP, in order; a staged update repeated within a pass starts the next (reads reuse a buffer per staged file). */
function passes(updates: readonly WeightedUpdate[]): WeightedUpdate[][] {
  const out: WeightedUpdate[][] = [];
  let group: WeightedUpdate[] = [];
  for (const u of updates) {
    if (group.length === MAX_FOLD_GROUP || group.some((g) => g.staged === u.staged)) {
      out.push(group);
      group = [];
    }
    group.push(u);
  }
  if (group.length > 0) out.push(group);
  return out;
}

/**
 * The float32 fold where WebAssembly SIMD is unavailable: kept monomorphic per input count, on
 * a subarray of the sum so all arrays share one index (1.5x the former unrolled-by-four loop
 * with `start + j`). The same additions in the same order as the kernels (and as one update at a time).
 */
function addScaledFloat32(sums: Float64Array, start: number, values: Float32Array[], weights: number[], init: boolean): void {
  const n = values[0].length;
  const t = sums.subarray(start, start + n);
  const [a, b, c, d] = values;
  const [wa, wb, wc, wd] = weights;
  switch (values.length) {
    case 1:
      if (init) for (let j = 0; j < n; j++) t[j] = 0 + wa * a[j];
      else for (let j = 0; j < n; j++) t[j] += wa * a[j];
      return;
    case 2:
      if (init) for (let j = 0; j < n; j++) t[j] = 0 + wa * a[j] + wb * b[j];
      else for (let j = 0; j < n; j++) t[j] = t[j] + wa * a[j] + wb * b[j];
      return;
    case 3:
      if (init) for (let j = 0; j < n; j++) t[j] = 0 + wa * a[j] + wb * b[j] + wc * c[j];
      else for (let j = 0; j < n; j++) t[j] = t[j] + wa * a[j] + wb * b[j] + wc * c[j];
      return;
    case 4:
      if (init) for (let j = 0; j < n; j++) t[j] = 0 + wa * a[j] + wb * b[j] + wc * c[j] + wd * d[j];
      else for (let j = 0; j < n; j++) t[j] = t[j] + wa * a[j] + wb * b[j] + wc * c[j] + wd * d[j];
      return;
    default:
      throw new RangeError(`a fold pass takes 1 to ${MAX_FOLD_GROUP} updates, got ${values.length}`);
  }
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
