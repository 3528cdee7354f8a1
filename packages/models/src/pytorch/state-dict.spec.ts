import { readFileSync } from "node:fs";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { selectBackend } from "../backend.js";
import { loadTorchFile, type TorchTensor } from "./torch-file.js";
import { loadTorchSequential } from "./source.js";
import { saveTorchStateDict } from "./state-dict.js";
import { ownFixtures } from "./fixture-check.js";
import { PyObject } from "./unpickler.js";
import { tempDirSync } from "../../../../test/helpers/temp-dirs.js";

describe("saveTorchStateDict", () => {
  beforeAll(async () => { await selectBackend("cpu"); });

  it("writes the original module's keys and PyTorch layouts (read back by the restricted unpickler)", () => {
    const dir = path.join(ownFixtures, "pytorch", "bn_pools");
    const model = loadTorchSequential(path.join(dir, "model.pt"), { inputShape: [2, 16, 16] });
    const file = path.join(tempDirSync("cohort-sd-"), "state.pt");
    const keys = saveTorchStateDict(model, file);
    expect(keys).toEqual(["0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean", "1.running_var", "1.num_batches_tracked", "4.weight", "4.bias", "11.weight", "11.bias"]);
    const back = loadTorchFile(new Uint8Array(readFileSync(file)), file) as Map<string, TorchTensor>;
    const original = loadTorchFile(new Uint8Array(readFileSync(path.join(dir, "model.pt"))), "bn_pools") as PyObject;
    const conv = (original.get("_modules") as Map<string, PyObject>).get("0")!;
    const w = (conv.get("_parameters") as Map<string, TorchTensor>).get("weight")!;
    expect(back.get("0.weight")!.shape).toEqual(w.shape);
    expect(Array.from(back.get("0.weight")!.data as Float32Array)).toEqual(Array.from(w.data as Float32Array));
  });
});
