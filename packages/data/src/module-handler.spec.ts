import { writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { loadDataset } from "./registry.js";
import { tempDir } from "../../../test/helpers/temp-dirs.js";

const EXAMPLE = resolve(import.meta.dirname, "../../../examples/custom-data");

describe("a JS data handler module (IBM FL's custom data handler)", () => {
  it("loads the documented example: its CSV rows split 8 train / 2 test", async () => {
    const d = await loadDataset({ name: "MyDataHandler", module: join(EXAMPLE, "custom_data_handler.mjs"), info: { file: "points.csv" } }, { baseDir: EXAMPLE });
    expect(d.train.xShape).toEqual([8, 2]);
    expect(d.test.xShape).toEqual([2, 2]);
    expect([...d.test.y]).toEqual([0, 1]);
    expect(d.description).toMatch(/^MyDataHandler from .*custom_data_handler\.mjs: 8 train \/ 2 test/);
  });

  it("refuses a module that returns something else, naming the module and the expected shape", async () => {
    const dir = await tempDir("cohort-data-module-");
    const file = join(dir, "bad.mjs");
    await writeFile(file, "export default () => ({ train: { x: [1, 2], xShape: [2, 1] } });\n");
    await expect(loadDataset({ name: "Bad", module: file, info: {} }, { baseDir: dir })).rejects.toThrow(/data handler Bad \(.*bad\.mjs\): train: expected \{x: Float32Array/);
    await expect(loadDataset({ name: "Gone", module: join(dir, "none.mjs"), info: {} }, { baseDir: dir })).rejects.toThrow(/module file not found/);
  });

  it("refuses a split whose x and y disagree, as for any handler", async () => {
    const dir = await tempDir("cohort-data-module-");
    const file = join(dir, "uneven.mjs");
    await writeFile(file, "const s = { x: new Float32Array(4), xShape: [2, 2], y: new Int32Array(3), yShape: [3] };\nexport function loadData() { return { train: s, test: s }; }\n");
    await expect(loadDataset({ name: "Uneven", module: file, info: {} }, { baseDir: dir })).rejects.toThrow(/x has 2 examples but y has 3/);
  });
});
