import { mkdir, open, rm, type FileHandle } from "node:fs/promises";
import { withPath } from "@cohort/tensors";
import { join } from "node:path";
import { randomUUID } from "node:crypto";

/** A region of memory handed to a memory-staged update; `free` gives it back (once, on release). */
export interface StagingRegion {
  readonly bytes: Uint8Array;
  free(): void;
}

/**
 * Provides the memory of a memory-staged update of `bytes` bytes, or undefined (a plain
 * Uint8Array is used then): the aggregator's accumulator hands out regions of its WebAssembly
 * memory, which its fold kernels read in place (WeightedSum.allocateStaging).
 */
export type StagingAllocator = (bytes: number) => StagingRegion | undefined;

/**
 * Where in-flight updates wait until they are complete and verified. Each update reserves its
 * full size (known from the manifest, never from the peer) against a shared memory budget; one
 * that does not fit is spilled to a file. Aggregator memory is thus bounded by the budget plus
 * the accumulator, whatever the number of parties uploading at once.
 */
export class UpdateStaging {
  private reserved = 0;
  private held = 0;

  /**
   * `memoryBudgetBytes` is a number of bytes, or a function of one update's size (the model's),
   * so that a deployment can size the budget before the model is known (the aggregator's
   * default: the model's size, clamped to [64 MiB, 256 MiB]; see defaultStagingBudget).
   */
  constructor(private readonly options: { dir: string; memoryBudgetBytes: number | ((updateBytes: number) => number); allocate?: StagingAllocator }) {
    this.allocator = options.allocate;
  }

  /**
   * Where memory-staged updates get their bytes (set by the aggregator once its accumulator
   * exists); it only changes where the bytes live, never the budget accounting.
   */
  allocator: StagingAllocator | undefined;

  /** The memory budget for updates of `updateBytes` bytes each. */
  memoryBudget(updateBytes: number): number {
    const budget = this.options.memoryBudgetBytes;
    return typeof budget === "number" ? budget : budget(updateBytes);
  }

  get reservedBytes(): number {
    return this.reserved;
  }

  /** Bytes charged by `hold` (receive buffers of uploads in flight). */
  get heldBytes(): number {
    return this.held;
  }

  /**
   * Charges `bytes` of memory that an update in flight holds outside staging (an upload's
   * receive buffers: the message being reassembled, the one being staged, one read ahead)
   * against the same budget until the returned (idempotent) release is called. It never
   * refuses: it only makes `begin` spill to disk sooner, so that many uploads at once do not
   * hold their receive buffers and memory-staged updates on top of each other.
   */
  hold(bytes: number): () => void {
    this.held += bytes;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.held -= bytes;
    };
  }

  async begin(totalBytes: number): Promise<StagedWriter> {
    if (this.reserved + this.held + totalBytes <= this.memoryBudget(totalBytes)) {
      this.reserved += totalBytes;
      return new MemoryWriter(totalBytes, () => { this.reserved -= totalBytes; }, this.allocator);
    }
    await withPath(this.options.dir, "create the folder", () => mkdir(this.options.dir, { recursive: true }));
    const path = join(this.options.dir, `update-${randomUUID()}.bin`);
    return new FileWriter(path, totalBytes, await withPath(path, "create", () => open(path, "w+")));
  }
}

/**
 * The default memory budget of an aggregator's staging: one update's worth of memory, at least
 * 64 MiB (small models keep many in memory) and at most 256 MiB; the rest spills to disk. The
 * aggregator's peak memory is thus about the float64 accumulator (2x a float32 model) plus the
 * global weights plus at most this, flat in the number of parties uploading at once.
 */
export function defaultStagingBudget(updateBytes: number): number {
  return Math.min(256 * 1024 * 1024, Math.max(64 * 1024 * 1024, updateBytes));
}

/** Receives an update's bytes in order; `commit` hands them over for folding, `abort` drops them. */
export interface StagedWriter {
  readonly totalBytes: number;
  write(data: Uint8Array): Promise<void>;
  commit(): Promise<StagedBytes>;
  abort(): Promise<void>;
}

/** A complete update's bytes, readable in slices; `release` frees memory or deletes the file. */
export interface StagedBytes {
  readonly size: number;
  read(offset: number, length: number): Promise<Uint8Array>;
  release(): Promise<void>;
}

class MemoryWriter implements StagedWriter, StagedBytes {
  private bytes: Uint8Array;
  /** Where the bytes came from when an allocator provided them (freed on release). */
  private readonly region: StagingRegion | undefined;
  private written = 0;
  private released = false;

  constructor(readonly totalBytes: number, private readonly free: () => void, allocate?: StagingAllocator) {
    let region = allocate?.(totalBytes);
    if (region && region.bytes.byteLength !== totalBytes) {
      region.free();
      region = undefined;
    }
    this.region = region;
    this.bytes = region?.bytes ?? new Uint8Array(totalBytes);
  }

  get size(): number {
    return this.totalBytes;
  }

  async write(data: Uint8Array): Promise<void> {
    if (this.written + data.byteLength > this.totalBytes) throw new RangeError("write past the staged size");
    this.bytes.set(data, this.written);
    this.written += data.byteLength;
  }

  async commit(): Promise<StagedBytes> {
    // A reused region holds an earlier update's bytes: what was not written reads as zeros, as in a fresh array.
    if (this.region && this.written < this.totalBytes) this.bytes.fill(0, this.written);
    return this;
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    // A released region may already hold another update.
    if (this.released && this.region) throw new Error("read of a released staged update");
    return this.bytes.subarray(offset, offset + length);
  }

  async abort(): Promise<void> {
    await this.release();
  }

  async release(): Promise<void> {
    if (!this.released) {
      this.released = true;
      if (this.region) {
        this.bytes = new Uint8Array(0);
        this.region.free();
      }
      this.free();
    }
  }
}

class FileWriter implements StagedWriter, StagedBytes {
  private written = 0;
  private closed = false;
  private scratch = new Uint8Array(0);

  constructor(private readonly path: string, readonly totalBytes: number, private readonly file: FileHandle) {}

  get size(): number {
    return this.totalBytes;
  }

  async write(data: Uint8Array): Promise<void> {
    if (this.written + data.byteLength > this.totalBytes) throw new RangeError("write past the staged size");
    await withPath(this.path, "write", () => this.file.write(data, 0, data.byteLength, this.written));
    this.written += data.byteLength;
  }

  async commit(): Promise<StagedBytes> {
    return this;
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    // One reusable buffer per staged file: the fold consumes a slice before asking for the next.
    if (this.scratch.byteLength < length) this.scratch = new Uint8Array(length);
    const { bytesRead } = await withPath(this.path, "read", () => this.file.read(this.scratch, 0, length, offset));
    if (bytesRead !== length) throw new RangeError(`staged file ${this.path}: read ${bytesRead} of ${length} bytes`);
    return this.scratch.subarray(0, length);
  }

  async abort(): Promise<void> {
    await this.release();
  }

  async release(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.scratch = new Uint8Array(0); // the holder of a released update may outlive it: free its read buffer now
    await this.file.close();
    await rm(this.path, { force: true });
  }
}
