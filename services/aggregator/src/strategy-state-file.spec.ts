import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readStrategyState, writeStrategyState } from "./strategy-state-file.js";
import { tempDir } from "../../../test/helpers/temp-dirs.js";

const manifest = { tensors: [{ name: "w", dtype: "float32" as const, shape: [3] }] };
const m = Float64Array.from([0.1, -2.5e-300, 1 / 3]);
const v = Float64Array.from([1e-6, 4, Number.MIN_VALUE]);

describe("strategy state files", () => {
  it("give back the float64 values written, bit for bit, as little-endian doubles", async () => {
    const path = join(await tempDir("cohort-state-"), "round-0001.state.bin");
    const meta = await writeStrategyState(path, { strategy: "fedadam", arrays: [{ name: "m", values: m }, { name: "v", values: v }] });
    expect(meta).toMatchObject({ strategy: "fedadam", arrays: [{ name: "m", values: 3 }, { name: "v", values: 3 }], bytes: 48 });
    const bytes = await readFile(path);
    expect(bytes.readDoubleLE(8 * 4)).toBe(4); // v[1], after the three values of m
    const state = await readStrategyState(path, meta, manifest);
    expect(state.strategy).toBe("fedadam");
    expect(state.arrays.map((a) => a.name)).toEqual(["m", "v"]);
    expect(Array.from(state.arrays[0].values)).toEqual(Array.from(m));
    expect(Array.from(state.arrays[1].values)).toEqual(Array.from(v));
  });

  it("refuse a file that differs from its record or from the model, before reading it", async () => {
    const path = join(await tempDir("cohort-state-"), "round-0001.state.bin");
    const meta = await writeStrategyState(path, { strategy: "fedavgm", arrays: [{ name: "m", values: m }] });
    const bigger = { tensors: [{ name: "w", dtype: "float32" as const, shape: [4] }] };
    await expect(readStrategyState(path, meta, bigger)).rejects.toThrow("strategy state m has 3 values, the model 4 weights");
    await expect(readStrategyState(path, { ...meta, arrays: [] }, manifest)).rejects.toThrow("strategy state lists 0 arrays, expected 1 to 8");
    await writeFile(path, new Uint8Array(16));
    await expect(readStrategyState(path, meta, manifest)).rejects.toThrow("strategy state file holds 16 bytes, expected 24");
    await writeFile(path, new Uint8Array(24));
    await expect(readStrategyState(path, meta, manifest)).rejects.toThrow("SHA-256 does not match");
  });
});
