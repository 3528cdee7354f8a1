import { unzipSync, zipSync, type Zippable } from "fflate";
import { type NpyArray, readNpy, writeNpy } from "./npy.js";

/**
 * NumPy `.npz` archives: a zip of `.npy` files, stored (np.savez) or deflated
 * (np.savez_compressed). Sizes declared in the zip's central directory are checked against a
 * limit before anything is inflated, and each entry is inflated into a buffer of exactly its
 * declared size, so a zip bomb can neither allocate past the limit nor grow the buffer.
 */

export type NpzErrorCode = "npz.bad_zip" | "npz.too_large" | "npz.size_mismatch" | "npz.bad_name";

export class NpzError extends Error {
  override name = "NpzError";
  constructor(readonly code: NpzErrorCode, readonly source: string, message: string) {
    super(`${source}: ${message}`);
  }
}

export interface NpzReadOptions {
  /** Largest total uncompressed size of the entries read, in bytes (default 2 GiB). */
  maxBytes?: number;
  /** Read only these keys (without ".npy"); the others are not inflated. Missing keys are simply absent. */
  only?: readonly string[];
}

export interface NpzEntryInfo {
  key: string;
  /** Uncompressed size declared by the archive. */
  bytes: number;
  compressed: boolean;
}

const DEFAULT_MAX_BYTES = 2 * 1024 ** 3;

function keyOf(name: string): string | undefined {
  return name.endsWith(".npy") ? name.slice(0, -4) : undefined;
}

function unzip(bytes: Uint8Array, source: string, filter: (info: { name: string; originalSize: number; compression: number }) => boolean) {
  try {
    return unzipSync(bytes, { filter });
  } catch (err) {
    if (err instanceof NpzError) throw err;
    throw new NpzError("npz.bad_zip", source, `not a readable .npz (zip) archive: ${(err as Error).message}`);
  }
}

/** Lists the arrays in an archive from its central directory, inflating nothing. */
export function listNpz(bytes: Uint8Array, source = "<npz>"): NpzEntryInfo[] {
  const entries: NpzEntryInfo[] = [];
  unzip(bytes, source, (info) => {
    const key = keyOf(info.name);
    if (key !== undefined) entries.push({ key, bytes: info.originalSize, compressed: info.compression !== 0 });
    return false;
  });
  return entries;
}

/**
 * Reads the `.npy` entries of an archive into a map keyed by name without ".npy" (as
 * `np.load(f).files` names them). Entries that are not `.npy` are ignored.
 */
export function readNpz(bytes: Uint8Array, source = "<npz>", options: NpzReadOptions = {}): Map<string, NpyArray> {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  const wanted = options.only ? new Set(options.only) : undefined;
  const declared = new Map<string, number>();
  let total = 0;
  const files = unzip(bytes, source, (info) => {
    const key = keyOf(info.name);
    if (key === undefined || (wanted && !wanted.has(key))) return false;
    total += info.originalSize;
    if (total > maxBytes) {
      throw new NpzError("npz.too_large", source,
        `entries up to ${info.name} declare ${total} uncompressed bytes, over the limit of ${maxBytes} (raise maxBytes if the file is trusted)`);
    }
    declared.set(info.name, info.originalSize);
    return true;
  });
  const out = new Map<string, NpyArray>();
  for (const [name, data] of Object.entries(files)) {
    const expected = declared.get(name);
    if (data.length !== expected) {
      throw new NpzError("npz.size_mismatch", source, `${name} declares ${expected} bytes but holds ${data.length}`);
    }
    out.set(keyOf(name)!, readNpy(data, `${source}:${name}`));
  }
  return out;
}

export interface NpzWriteOptions {
  /** Deflate the entries, as np.savez_compressed does (default false: stored, as np.savez). */
  compress?: boolean;
}

/** Writes arrays as an `.npz` that `np.load` reads; keys become "<key>.npy" entries. */
export function writeNpz(entries: ReadonlyMap<string, NpyArray> | Record<string, NpyArray>, options: NpzWriteOptions = {}): Uint8Array {
  const pairs = entries instanceof Map ? [...entries] : Object.entries(entries);
  const zippable: Zippable = {};
  for (const [key, array] of pairs) {
    if (key === "" || key.includes("/") || key.includes("\\")) {
      throw new NpzError("npz.bad_name", "<writeNpz>", `array name ${JSON.stringify(key)} is not a plain file name`);
    }
    // Level 0 makes fflate store the entry; Object.defineProperty keeps "__proto__" a plain key.
    Object.defineProperty(zippable, `${key}.npy`, {
      value: [writeNpy(array), { level: options.compress ? 6 : 0 }], enumerable: true,
    });
  }
  return zipSync(zippable);
}
