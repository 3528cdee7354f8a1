import { describe, expect, it } from "vitest";
import type { Manifest } from "@cohort/tensors";
import type { StagedBytes } from "./staging.js";
import { ClippedUpdate, updateNorm } from "./update-norm.js";

const manifest: Manifest = { tensors: [{ name: "w", dtype: "float32", shape: [2, 2] }, { name: "steps", dtype: "int32", shape: [1] }, { name: "b", dtype: "float32", shape: [2] }] };

function staged(w: number[], steps: number, b: number[]): StagedBytes {
  const bytes = new Uint8Array(28);
  new Float32Array(bytes.buffer, 0, 4).set(w);
  new Int32Array(bytes.buffer, 16, 1)[0] = steps;
  new Float32Array(bytes.buffer, 20, 2).set(b);
  return { size: 28, read: async (o, l) => bytes.subarray(o, o + l), release: async () => undefined };
}

describe("update norm and clipping", () => {
  const previous = staged([1, 1, 1, 1], 5, [0, 0]);
  const update = staged([4, 1, 1, 1], 9, [0, 4]);

  it("the norm is that of the floating-point change only (integer counters do not count)", async () => {
    expect(await updateNorm(manifest, update, previous)).toBeCloseTo(5, 12); // sqrt(3^2 + 4^2)
  });

  it("a clipped update reads previous + scale * change, integer tensors as sent", async () => {
    const clipped = new ClippedUpdate(manifest, update, previous, 2 / 5);
    expect([...new Float32Array((await clipped.read(0, 16)).slice().buffer)]).toEqual([1 + 1.2, 1, 1, 1].map(Math.fround));
    expect(new Int32Array((await clipped.read(16, 4)).slice().buffer)[0]).toBe(9);
    expect([...new Float32Array((await clipped.read(20, 8)).slice().buffer)]).toEqual([0, Math.fround(1.6)]);
    expect(await updateNorm(manifest, clipped, previous)).toBeCloseTo(2, 6);
    await expect(clipped.read(12, 8)).rejects.toThrow(/within one tensor/);
  });
});
