import { describe, expect, it } from "vitest";
import { UpdateStaging } from "@cohort/fusion";
import { ModelStore } from "./model-store.js";
import { RoundAccumulator } from "./round-accumulator.js";
import { tempDir } from "../../../test/helpers/temp-dirs.js";

describe("RoundAccumulator", () => {
  it("hands every round of a model the same sum, emptied, and stages updates in its arena", async () => {
    const store = new ModelStore();
    store.setManifest({ tensors: [{ name: "w", dtype: "float32", shape: [4] }] });
    const staging = new UpdateStaging({ dir: await tempDir("cohort-accumulator-"), memoryBudgetBytes: 1 << 20 });
    const accumulator = new RoundAccumulator(store, staging);
    const first = accumulator.roundSum();
    expect(staging.allocator).toBeDefined();
    const writer = await staging.begin(16);
    await writer.write(new Uint8Array(new Float32Array([1, 2, 3, 4]).buffer));
    const update = await writer.commit();
    await first.fold(update, 1);
    expect(first.count).toBe(1);
    const second = accumulator.roundSum();
    expect(second).toBe(first);
    expect(second.count).toBe(0);
    await update.release();
  });

  it("makes a new sum when the model changes", async () => {
    const store = new ModelStore();
    store.setManifest({ tensors: [{ name: "w", dtype: "float32", shape: [4] }] });
    const accumulator = new RoundAccumulator(store, new UpdateStaging({ dir: await tempDir("cohort-accumulator-"), memoryBudgetBytes: 1 << 20 }));
    const first = accumulator.roundSum();
    store.setManifest({ tensors: [{ name: "w", dtype: "float32", shape: [8] }] });
    const second = accumulator.roundSum();
    expect(second).not.toBe(first);
    expect(second.manifest.tensors[0]!.shape).toEqual([8]);
  });
});
