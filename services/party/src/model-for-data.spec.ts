import path from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { loadDataset } from "@cohort/data";
import { selectBackend } from "@cohort/models";
import { loadModelForData } from "./model-for-data.js";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
// Flatten + Linear(784): the layers alone fit [784], [28, 28] and [1, 28, 28].
const section = { name: "PytorchFLModel", spec: { model_definition: "model.pt", loss_criterion: "nn.NLLLoss" }, specBaseDir: path.join(repoRoot, "test/corpus/pytorch/flatten_mlp") };
const mnist = (info: Record<string, unknown>) => loadDataset({ name: "mnist", info: { party_index: 0, num_parties: 2, max_examples: 20, ...info } }, { baseDir: repoRoot });

describe("loadModelForData", () => {
  beforeAll(async () => { await selectBackend("cpu"); });

  it("builds a PyTorch model that fixes no input shape for the data's examples", async () => {
    expect((await loadModelForData(section, await mnist({ layout: "nchw" }), "party.yml: data mnist")).inputs[0]!.shape).toEqual([null, 1, 28, 28]);
    expect((await loadModelForData(section, await mnist({ shape: "flat" }), "party.yml: data mnist")).inputs[0]!.shape).toEqual([null, 784]);
  });

  it("names the data when their shape does not fit; a channels-last image is told the layout", async () => {
    const conv = { ...section, specBaseDir: path.join(repoRoot, "test/corpus/pytorch/depthwise_pools") };
    await expect(loadModelForData(conv, await mnist({}), "party.yml: data mnist"))
      .rejects.toThrow(/the input shape \[28, 28, 1\] from party\.yml: data mnist \(x per example\) does not fit the model: .*set data\.info\.layout: nchw/);
  });
});
