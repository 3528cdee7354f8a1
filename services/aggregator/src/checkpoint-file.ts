import { createHash } from "node:crypto";
import { open } from "node:fs/promises";
import { atomicWriteSlices } from "@cohort/tensors";
import { Crc32 } from "@cohort/wire";

/**
 * A file of packed global weights as written: where, how many bytes, their SHA-256 (recorded
 * beside the checkpoint: what a restart and an auditor check) and their CRC-32 (the transfer
 * checksum downloads of it carry).
 */
export interface WeightsFile {
  path: string;
  size: number;
  sha256: string;
  crc32: number;
}

/** Both checksums of a weights file, fed the same slices once: what writing and verifying a checkpoint compute. */
class WeightsDigests {
  private readonly hash = createHash("sha256");
  private readonly checksum = new Crc32();

  update(slice: Uint8Array): void {
    this.hash.update(slice);
    this.checksum.update(slice);
  }

  result(): { sha256: string; crc32: number } {
    return { sha256: this.hash.digest("hex"), crc32: this.checksum.value };
  }
}

/** Where the time of a streamed write went: producing + hashing + writing the slices, then fsync + rename. */
export interface WriteTimings {
  writeMs: number;
  syncMs: number;
}

/**
 * Writes `slices` (consumed one at a time: each may be a view of a buffer its producer reuses)
 * to `path` atomically, as atomicWriteFile does with one buffer: a temporary sibling, fsync,
 * rename over the target, fsync of the directory. The SHA-256 and CRC-32 are computed on the
 * way, so the whole content never needs to be in memory.
 */
export async function writeWeightsFile(
  path: string,
  slices: Iterable<Uint8Array> | AsyncIterable<Uint8Array>,
  expectedSize?: number,
): Promise<WeightsFile & WriteTimings> {
  const digests = new WeightsDigests();
  async function* hashed() {
    for await (const slice of slices) {
      digests.update(slice);
      yield slice;
    }
  }
  const { size, writeMs, syncMs } = await atomicWriteSlices(path, hashed(), (written) => {
    if (expectedSize !== undefined && written !== expectedSize) throw new RangeError(`wrote ${written} bytes of weights, expected ${expectedSize}`);
  });
  return { path, size, ...digests.result(), writeMs, syncMs };
}

/** SHA-256, CRC-32 and size of a file, read in slices of `sliceBytes` (no whole copy in memory). */
export async function hashFile(path: string, sliceBytes = 4 * 1024 * 1024): Promise<{ size: number; sha256: string; crc32: number }> {
  const file = await open(path, "r");
  try {
    const digests = new WeightsDigests();
    const buffer = new Uint8Array(sliceBytes);
    let size = 0;
    for (;;) {
      const { bytesRead } = await file.read(buffer, 0, buffer.byteLength, size);
      if (bytesRead === 0) break;
      digests.update(buffer.subarray(0, bytesRead));
      size += bytesRead;
    }
    return { size, ...digests.result() };
  } finally {
    await file.close();
  }
}
