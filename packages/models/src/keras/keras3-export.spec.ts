import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { selectBackend } from "../backend.js";
import { tf } from "../tfjs.js";
import { repoRoot } from "./fixture-support.js";
import { loadKeras3 } from "./keras3.js";
import { saveKeras3Archive } from "./keras3-export.js";
import { tempDirSync } from "../../../../test/helpers/temp-dirs.js";

const source = path.join(repoRoot, "test/corpus/keras/seq-bilstm/model.keras");

describe("saveKeras3Archive", () => {
  beforeAll(async () => {
    await selectBackend("cpu");
  });

  it("writes changed weights at Keras 3's object paths: a reload gets every tensor back (Bidirectional's forward and backward included)", async () => {
    const model = await loadKeras3(source);
    // Distinct values per tensor, so that a weight written to another tensor's place shows.
    const changed = model.getWeights().map((w, i) => tf.add(w, (i + 1) * 0.01));
    model.setWeights(changed);
    const out = path.join(tempDirSync("cohort-keras3-export-"), "out.keras");
    await saveKeras3Archive(model, source, out);
    const back = (await loadKeras3(out)).getWeights();
    expect(back).toHaveLength(changed.length);
    back.forEach((w, i) => expect(Array.from(w.dataSync())).toEqual(Array.from(changed[i].dataSync())));
  });

  it("refuses a source without config.json, naming it", async () => {
    const model = await loadKeras3(source);
    await expect(saveKeras3Archive(model, path.join(repoRoot, "test/corpus/keras/seq-bilstm/model.h5"), "/tmp/never.keras")).rejects.toThrow(/seq-bilstm\/model\.h5.*not a readable \.keras zip archive/);
  });
});
