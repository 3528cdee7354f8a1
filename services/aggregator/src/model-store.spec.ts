import { createHash } from "node:crypto";
import { fstatSync } from "node:fs";
import { crc32 } from "node:zlib";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { writeWeightsFile } from "./checkpoint-file.js";
import { ModelStore } from "./model-store.js";
import { RunOutput } from "./run-output.js";
import { tempDir } from "../../../test/helpers/temp-dirs.js";

const manifest = { tensors: [{ name: "w", dtype: "float32" as const, shape: [1000] }] };
const weights = (value: number) => new Uint8Array(new Float32Array(1000).fill(value).buffer);
const sha = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");
const crc = (bytes: Uint8Array) => crc32(bytes);

let dir: string;
afterEach(async () => { if (dir) await rm(dir, { recursive: true, force: true }); });

async function storeWithRounds(rounds: number[]) {
  dir = await tempDir("cohort-store-");
  const output = new RunOutput(dir);
  const store = new ModelStore();
  store.setManifest(manifest);
  for (const r of rounds) store.putFile(r, await output.writeCheckpointSlices(r, manifest, [weights(r)]));
  return { store, output };
}

/** Whether a descriptor number is open in this process. */
const isOpen = (fd: number) => { try { fstatSync(fd); return true; } catch { return false; } };

describe("ModelStore", () => {
  it("serves a round from its checkpoint file: metadata, positional reads, sync reads, a whole copy on demand", async () => {
    const { store } = await storeWithRounds([0, 1]);
    const model = store.get(1)!;
    expect(model).toMatchObject({ round: 1, size: 4000, crc32: crc(weights(1)) });
    expect(model.path).toMatch(/round-0001\.bin$/);
    const reader = store.open(1)!;
    const slice = await reader.read(8, 8);
    expect(Array.from(new Float32Array(slice.buffer, slice.byteOffset, 2))).toEqual([1, 1]);
    reader.release();
    expect(Buffer.from(store.read(0, 3996, 4)).equals(Buffer.from(weights(0).subarray(3996)))).toBe(true);
    expect(() => store.read(0, 3998, 4)).toThrow(RangeError);
    expect(crc(store.bytes(1)!)).toBe(model.crc32);
    expect(store.bytes(7)).toBeUndefined();
    store.close();
  });

  it("keeps the newest two rounds; a retired round's file stays open until the last download holding it ends", async () => {
    const { store, output } = await storeWithRounds([0, 1]);
    const held = store.open(0)!;
    const fds = () => (store as unknown as { rounds: Map<number, { fd?: number }> }).rounds;
    const fd0 = fds().get(0)!.fd!;
    store.putFile(2, await output.writeCheckpointSlices(2, manifest, [weights(2)]));
    expect(store.get(0)).toBeUndefined();
    expect(store.open(0)).toBeUndefined();
    expect(store.latest?.round).toBe(2);
    expect(isOpen(fd0)).toBe(true); // still streaming
    expect(Buffer.from(await held.read(0, 4000)).equals(Buffer.from(weights(0)))).toBe(true);
    held.release();
    held.release(); // twice is harmless
    expect(isOpen(fd0)).toBe(false);
    const fd1 = fds().get(1)!.fd!;
    store.close();
    expect(isOpen(fd1)).toBe(false);
  });

  it("an in-memory initial model is replaced by its checkpoint; sizes are checked", async () => {
    dir = await tempDir("cohort-store-");
    const store = new ModelStore();
    expect(() => store.put(0, weights(3))).toThrow(/manifest/);
    store.setManifest(manifest);
    expect(() => store.put(0, new Uint8Array(12))).toThrow(RangeError);
    const initial = store.put(0, weights(3));
    expect(initial.path).toBeUndefined();
    await store.ready;
    const file = await new RunOutput(dir).writeCheckpointSlices(0, manifest, [store.bytes(0)!]);
    expect(file.crc32).toBe(initial.crc32);
    expect(file.sha256).toBe(sha(weights(3)));
    expect(store.putFile(0, file).path).toBe(file.path);
    expect(Buffer.from(store.read(0, 0, 4000)).equals(Buffer.from(weights(3)))).toBe(true);
    const short = await writeWeightsFile(join(dir, "short.bin"), [new Uint8Array(12)]);
    expect(() => store.putFile(1, short)).toThrow(RangeError);
    expect(() => store.putFile(1, { ...short, size: 4000 })).toThrow(/holds 12 bytes/);
    store.close();
  });

  it("writes a checkpoint from slices atomically, refusing a wrong size and leaving no temporary file", async () => {
    dir = await tempDir("cohort-store-");
    const output = new RunOutput(dir);
    const slices = [weights(5).subarray(0, 1000), weights(5).subarray(1000)];
    const file = await output.writeCheckpointSlices(4, manifest, slices);
    expect(file).toMatchObject({ size: 4000, sha256: sha(weights(5)), crc32: crc(weights(5)), path: output.checkpointPath(4) });
    await expect(output.writeCheckpointSlices(5, manifest, [weights(5).subarray(4)])).rejects.toThrow(/expected 4000/);
    const { readdir } = await import("node:fs/promises");
    expect((await readdir(join(dir, "checkpoints"))).sort()).toEqual(["round-0004.bin", "round-0004.json"]);
  });
});
