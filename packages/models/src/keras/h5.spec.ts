import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import h5wasm from "h5wasm/node";
import { describe, expect, it } from "vitest";
import { readyH5 } from "./h5.js";
import { readKeras3VarGroups } from "./keras3-weights.js";
import { readKerasWeightsH5 } from "./h5-model.js";
import { tempDirSync } from "../../../../test/helpers/temp-dirs.js";

/** A Keras 2 `save_weights` h5 (layer dense, weight dense/kernel:0), its kernel gzip-compressed in one chunk. */
async function weightsFile(file: string): Promise<void> {
  await readyH5();
  const f = new h5wasm.File(file, "w");
  try {
    f.create_attribute("layer_names", ["dense"]);
    const layer = f.create_group("dense");
    layer.create_attribute("weight_names", ["dense/kernel:0"]);
    const inner = layer.create_group("dense");
    const data = Float32Array.from({ length: 4096 }, (_, i) => Math.sin(i));
    inner.create_dataset({ name: "kernel:0", data, shape: [64, 64], dtype: "<f", chunks: [64, 64], compression: "gzip", compression_opts: 9 });
  } finally {
    f.close();
  }
}

describe("HDF5 errors name the dataset", () => {
  it("a damaged chunk of a weight: the error names the file and the dataset's path", async () => {
    const dir = tempDirSync("cohort-h5-");
    const good = path.join(dir, "good.h5");
    await weightsFile(good);
    expect((await readKerasWeightsH5(good)).get("dense")?.[0]?.shape).toEqual([64, 64]);
    // Flip the bytes after the zlib header (0x78 0xda, level 9) of the only compressed chunk.
    const bytes = readFileSync(good);
    const at = bytes.lastIndexOf(Buffer.from([0x78, 0xda]));
    expect(at).toBeGreaterThan(0);
    for (let i = at + 2; i < at + 200; i++) bytes[i] ^= 0x5a;
    const bad = path.join(dir, "bad.h5");
    writeFileSync(bad, bytes);
    await expect(readKerasWeightsH5(bad)).rejects.toThrow(`${bad}: dataset dense/dense/kernel:0 cannot be read, truncated or corrupt? (H5Z_pipeline(): filter returned failure during read`);
  });

  it("a Keras 3 variable that is not a dataset is named, not a TypeError", async () => {
    await readyH5();
    const file = path.join(tempDirSync("cohort-h5-"), "model.weights.h5");
    const f = new h5wasm.File(file, "w");
    f.create_group("layers").create_group("dense").create_group("vars").create_group("0");
    f.close();
    const h = new h5wasm.File(file, "r");
    try {
      expect(() => readKeras3VarGroups(h, file)).toThrow(`${file}: dataset layers/dense/vars/0: missing, or not a dataset`);
    } finally {
      h.close();
    }
  });
});
