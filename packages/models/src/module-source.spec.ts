import { writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { loadModelFromModule, ModelModuleError } from "./module-source.js";
import { useWasm } from "./test-support.js";
import { tfl } from "./tfjs.js";
import { modelManifest } from "./weights.js";
import { createMnistCnn } from "./mnist-cnn.js";
import { tempDirSync } from "../../../test/helpers/temp-dirs.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const EXAMPLE = path.resolve(here, "../../../examples/mnist-tfjs/model.mjs");

function writeModule(source: string, name = "model.mjs"): string {
  const file = path.join(tempDirSync("cohort-module-"), name);
  writeFileSync(file, source);
  return file;
}

const DENSE = `tfl.sequential({ layers: [tfl.layers.dense({ inputShape: [3], units: 2 })] })`;

describe("loadModelFromModule", () => {
  beforeAll(useWasm);

  it("builds the example MNIST module with Cohort's tfjs, same architecture as createMnistCnn", async () => {
    const model = await loadModelFromModule(EXAMPLE);
    expect(model).toBeInstanceOf(tfl.LayersModel);
    expect(model.optimizer).toBeDefined();
    expect(modelManifest(model)).toEqual(modelManifest(createMnistCnn({ compile: false })));
  });

  it("accepts an async factory under createModel and a named export", async () => {
    const file = writeModule(`export async function createModel({ tfl }) { return ${DENSE}; }\nexport const other = ({ tfl }) => ${DENSE};`);
    expect((await loadModelFromModule(file)).outputs[0].shape).toEqual([null, 2]);
    expect(await loadModelFromModule(file, "other")).toBeInstanceOf(tfl.LayersModel);
  });

  it("names the file and the export when the export is missing", async () => {
    const file = writeModule(`export const something = 1;`);
    await expect(loadModelFromModule(file)).rejects.toThrowError(/model\.mjs: no export "default" or "createModel" \(exports: something\)/);
    await expect(loadModelFromModule(file, "build")).rejects.toThrowError(/model\.mjs \(export "build"\): no export "build"/);
  });

  it("refuses exports that are not functions or return something else", async () => {
    const notFn = writeModule(`export default 42;`);
    await expect(loadModelFromModule(notFn)).rejects.toThrowError(/\(export "default"\): export is a number/);
    const wrong = writeModule(`export default () => ({ layers: [] });`);
    const err = await loadModelFromModule(wrong).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelModuleError);
    expect(String(err)).toMatch(/\(export "default"\): factory returned Object, not a tfl\.LayersModel/);
  });

  it("reports a missing file and a throwing factory", async () => {
    await expect(loadModelFromModule("/nonexistent/model.mjs")).rejects.toThrowError(/\/nonexistent\/model\.mjs: module file not found/);
    const throws = writeModule(`export default () => { throw new Error("boom"); };`);
    await expect(loadModelFromModule(throws)).rejects.toThrowError(/factory threw: boom/);
  });
});
