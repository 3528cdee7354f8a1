import { closeSync, fstatSync, openSync, read as readCallback, readSync } from "node:fs";
import { type Manifest, fingerprint, manifestByteLength } from "@cohort/tensors";
import { Crc32 } from "@cohort/wire";
import type { WeightsFile } from "./checkpoint-file.js";

/** A round's global model as the store knows it: metadata only, never the bytes. */
export interface GlobalModel {
  round: number;
  /** Packed size in bytes (the manifest's). */
  size: number;
  /** CRC-32 of the packed weights: the checksum a download's last chunk carries. */
  crc32: number;
  /** The checkpoint file the weights are served from; undefined while they are only in memory (an initial model before its checkpoint). */
  path?: string;
}

/** A round's weights held open for reading (a download streaming them): `release()` when done. */
export interface ModelReader extends GlobalModel {
  /** `length` bytes at `offset`, in a fresh buffer the caller may keep. */
  read(offset: number, length: number): Promise<Uint8Array>;
  release(): void;
}

interface Entry {
  model: GlobalModel;
  /** Open read-only descriptor of model.path. */
  fd?: number;
  /** The weights in memory (no checkpoint yet). */
  memory?: Uint8Array;
  /** Readers holding the entry (downloads in flight): its descriptor stays open until the last one releases it. */
  refs: number;
  /** No longer among the kept rounds (or replaced): close when refs reach 0. */
  retired: boolean;
  /** `bytes(round)`'s loaded copy, kept while the round is. */
  loaded?: Uint8Array;
}

/**
 * The federation's model: its manifest (fixed by the aggregator's own model or the first party
 * to join), an optional TF.js topology for export, and the global weights of the last two
 * rounds (parties download round r - 1 to train round r, and round r to evaluate it).
 *
 * The weights are served from their checkpoint files, not from memory: the store keeps each
 * round's metadata and an open descriptor, and readers take positional reads of it. A reader
 * holds a reference, so a round that drops out of the newest two keeps its descriptor until
 * the last download streaming it ends. Only an initial model handed to the aggregator in
 * memory stays there until its checkpoint is written (putFile of round 0 replaces it).
 */
export class ModelStore {
  private manifestValue: Manifest | undefined;
  private fingerprintValue = "";
  private readonly rounds = new Map<number, Entry>();
  private readyResolve!: () => void;
  readonly ready: Promise<void> = new Promise((resolve) => { this.readyResolve = resolve; });
  topology: string | undefined;

  get manifest(): Manifest | undefined {
    return this.manifestValue;
  }

  get fingerprint(): string {
    return this.fingerprintValue;
  }

  setManifest(manifest: Manifest): void {
    this.manifestValue = manifest;
    this.fingerprintValue = fingerprint(manifest);
  }

  get latest(): GlobalModel | undefined {
    let best: GlobalModel | undefined;
    for (const { model } of this.rounds.values()) if (!best || model.round > best.round) best = model;
    return best;
  }

  get(round: number): GlobalModel | undefined {
    return this.rounds.get(round)?.model;
  }

  /** Keeps a round's weights in memory (an initial model before its checkpoint exists, tests). */
  put(round: number, bytes: Uint8Array): GlobalModel {
    const expected = this.expectedSize();
    if (bytes.byteLength !== expected) throw new RangeError(`global weights are ${bytes.byteLength} bytes, expected ${expected}`);
    const model = { round, size: bytes.byteLength, crc32: new Crc32().update(bytes).value };
    return this.add({ model, memory: bytes, refs: 0, retired: false });
  }

  /**
   * Serves a round's weights from `file` (a checkpoint whose size and checksums the caller wrote
   * or verified); opened read-only here. Replaces what the store held for the round.
   */
  putFile(round: number, file: WeightsFile): GlobalModel {
    const expected = this.expectedSize();
    if (file.size !== expected) throw new RangeError(`global weights are ${file.size} bytes, expected ${expected}`);
    const fd = openSync(file.path, "r");
    try {
      const actual = fstatSync(fd).size;
      if (actual !== file.size) throw new RangeError(`${file.path} holds ${actual} bytes, expected ${file.size}`);
    } catch (error) {
      closeSync(fd);
      throw error;
    }
    const model = { round, size: file.size, crc32: file.crc32, path: file.path };
    return this.add({ model, fd, refs: 0, retired: false });
  }

  /** Holds a round's weights for a reader (a download); undefined when the round is not kept. */
  open(round: number): ModelReader | undefined {
    const entry = this.rounds.get(round);
    if (!entry) return undefined;
    entry.refs++;
    let released = false;
    return {
      ...entry.model,
      read: (offset, length) => readEntry(entry, offset, length),
      release: () => {
        if (released) return;
        released = true;
        entry.refs--;
        this.closeIfUnused(entry);
      },
    };
  }

  /**
   * `length` bytes of a kept round's packed weights at `offset`, read synchronously (a
   * positional read of the checkpoint file): for code that needs a bounded slice of a global
   * model in memory, such as a decoder of updates encoded against the previous round.
   */
  read(round: number, offset: number, length: number): Uint8Array {
    const entry = this.rounds.get(round);
    if (!entry) throw new RangeError(`no global model for round ${round}`);
    checkRange(entry.model, offset, length);
    if (entry.memory) return entry.memory.subarray(offset, offset + length);
    const out = new Uint8Array(length);
    for (let done = 0; done < length;) {
      const n = readSync(entry.fd!, out, done, Math.min(length - done, MAX_READ_BYTES), offset + done);
      if (n === 0) throw new RangeError(`${entry.model.path}: ended after ${offset + done} of ${entry.model.size} bytes`);
      done += n;
    }
    return out;
  }

  /**
   * A kept round's whole packed weights in memory, loaded from its checkpoint on first use and
   * kept (one copy) until a newer round is stored; undefined when the round is not kept.
   * For the end-of-run export, or a consumer that cannot work in slices: it costs the model's size.
   */
  /** The global model round `round`'s parties trained from (round - 1), by byte range: what strategies and bounds read. */
  previousOf(round: number): { read(offset: number, length: number): Uint8Array } {
    return { read: (offset, length) => this.read(round - 1, offset, length) };
  }

  bytes(round: number): Uint8Array | undefined {
    const entry = this.rounds.get(round);
    if (!entry) return undefined;
    if (entry.memory) return entry.memory;
    entry.loaded ??= this.read(round, 0, entry.model.size);
    return entry.loaded;
  }

  /** Closes the descriptors of rounds no download holds (the aggregator is closing). */
  close(): void {
    for (const entry of this.rounds.values()) {
      entry.retired = true;
      this.closeIfUnused(entry);
    }
    this.rounds.clear();
  }

  private expectedSize(): number {
    if (!this.manifestValue) throw new Error("the model's manifest must be set before its weights");
    return manifestByteLength(this.manifestValue);
  }

  /** Adds a round, retiring what it replaces and every round older than the one before it. */
  private add(entry: Entry): GlobalModel {
    const { round } = entry.model;
    const replaced = this.rounds.get(round);
    this.rounds.set(round, entry);
    if (replaced) this.retire(replaced);
    for (const [r, old] of this.rounds) {
      // A loaded copy (bytes()) serves the round after it: older rounds' copies are dropped.
      if (r < round) old.loaded = undefined;
      if (r < round - 1) {
        this.rounds.delete(r);
        this.retire(old);
      }
    }
    this.readyResolve();
    return entry.model;
  }

  private retire(entry: Entry): void {
    entry.retired = true;
    entry.loaded = undefined;
    this.closeIfUnused(entry);
  }

  private closeIfUnused(entry: Entry): void {
    if (!entry.retired || entry.refs > 0) return;
    entry.memory = undefined;
    entry.loaded = undefined;
    if (entry.fd !== undefined) {
      const fd = entry.fd;
      entry.fd = undefined;
      closeSync(fd);
    }
  }
}

/** Most bytes one read() may ask for (the kernel and Node refuse 2 GiB and more). */
const MAX_READ_BYTES = 1024 * 1024 * 1024;

/** Views of `bytes` of at most `sliceBytes` each, in order. */
export function* slicesOf(bytes: Uint8Array, sliceBytes = 4 * 1024 * 1024): Generator<Uint8Array> {
  for (let at = 0; at < bytes.byteLength; at += sliceBytes) yield bytes.subarray(at, Math.min(at + sliceBytes, bytes.byteLength));
}

function checkRange(model: GlobalModel, offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > model.size) {
    throw new RangeError(`bytes [${offset}, ${offset + length}) outside round ${model.round}'s ${model.size}`);
  }
}

/** Positional read of a held entry into a fresh buffer (a download's chunk may outlive the next read). */
async function readEntry(entry: Entry, offset: number, length: number): Promise<Uint8Array> {
  checkRange(entry.model, offset, length);
  if (entry.memory) return entry.memory.subarray(offset, offset + length);
  const fd = entry.fd;
  if (fd === undefined) throw new Error(`round ${entry.model.round}'s weights were closed`);
  const out = Buffer.allocUnsafe(length);
  for (let done = 0; done < length;) {
    const n = await new Promise<number>((resolve, reject) =>
      readCallback(fd, out, done, Math.min(length - done, MAX_READ_BYTES), offset + done, (error, bytesRead) => (error ? reject(error) : resolve(bytesRead))));
    if (n === 0) throw new RangeError(`${entry.model.path}: ended after ${offset + done} of ${entry.model.size} bytes`);
    done += n;
  }
  return out;
}
