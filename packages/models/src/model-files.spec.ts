import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { loadLayersModelFromFile, ModelFileError, saveLayersModelToDir } from "./model-files.js";
import { tinyCnn, useWasm } from "./test-support.js";
import { tf, tfl } from "./tfjs.js";
import { tempDirSync } from "../../../test/helpers/temp-dirs.js";

const freshDir = () => tempDirSync("cohort-models-");
const input = () => tf.randomUniform([3, 8, 8, 1], 0, 1, "float32", 5);

describe("layers model files", () => {
  beforeAll(useWasm);

  it("round-trips through model.json + weights.bin with equal predictions", async () => {
    const dir = freshDir();
    const model = tinyCnn();
    const file = await saveLayersModelToDir(model, dir);
    expect(readdirSync(dir).sort()).toEqual(["model.json", "weights.bin"]); // no temp files left behind
    const loaded = await loadLayersModelFromFile(file);
    const x = input();
    expect(Array.from((loaded.predict(x) as tf.Tensor).dataSync())).toEqual(Array.from((model.predict(x) as tf.Tensor).dataSync()));
  });

  it("writes the standard format that tfjs' own loader reads", async () => {
    const dir = freshDir();
    const model = tinyCnn();
    await saveLayersModelToDir(model, dir);
    const json = JSON.parse(readFileSync(path.join(dir, "model.json"), "utf8")) as tf.io.ModelJSON;
    expect(json.format).toBe("layers-model");
    expect(json.weightsManifest[0].paths).toEqual(["weights.bin"]);
    const bin = readFileSync(path.join(dir, "weights.bin"));
    const weightData = bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength);
    const viaTfjs = await tfl.loadLayersModel(tf.io.fromMemory({
      modelTopology: json.modelTopology, weightSpecs: json.weightsManifest[0].weights, weightData,
    }));
    const x = input();
    expect(Array.from((viaTfjs.predict(x) as tf.Tensor).dataSync())).toEqual(Array.from((model.predict(x) as tf.Tensor).dataSync()));
  });

  it("reads weights split over several shards in manifest order", async () => {
    const dir = freshDir();
    const model = tinyCnn();
    await saveLayersModelToDir(model, dir);
    const json = JSON.parse(readFileSync(path.join(dir, "model.json"), "utf8")) as tf.io.ModelJSON;
    const bin = readFileSync(path.join(dir, "weights.bin"));
    writeFileSync(path.join(dir, "group1-shard1of2.bin"), bin.subarray(0, 40));
    writeFileSync(path.join(dir, "group1-shard2of2.bin"), bin.subarray(40));
    json.weightsManifest[0].paths = ["group1-shard1of2.bin", "./group1-shard2of2.bin"];
    writeFileSync(path.join(dir, "sharded.json"), JSON.stringify(json));
    const loaded = await loadLayersModelFromFile(path.join(dir, "sharded.json"));
    const x = input();
    expect(Array.from((loaded.predict(x) as tf.Tensor).dataSync())).toEqual(Array.from((model.predict(x) as tf.Tensor).dataSync()));
  });

  it("refuses weight paths that leave the model's folder", async () => {
    const dir = freshDir();
    await saveLayersModelToDir(tinyCnn(), dir);
    const json = JSON.parse(readFileSync(path.join(dir, "model.json"), "utf8")) as tf.io.ModelJSON;
    for (const evil of ["../weights.bin", "/etc/passwd", "sub/../../x.bin"]) {
      json.weightsManifest[0].paths = [evil];
      writeFileSync(path.join(dir, "evil.json"), JSON.stringify(json));
      await expect(loadLayersModelFromFile(path.join(dir, "evil.json"))).rejects.toThrowError(/evil\.json: weight path .* leaves the model's folder/);
    }
  });

  it("checks shard sizes against the manifest before reading, naming the files", async () => {
    const dir = freshDir();
    await saveLayersModelToDir(tinyCnn(), dir);
    const bin = readFileSync(path.join(dir, "weights.bin"));
    writeFileSync(path.join(dir, "weights.bin"), bin.subarray(0, bin.byteLength - 4));
    const err = await loadLayersModelFromFile(path.join(dir, "model.json")).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelFileError);
    expect(String(err)).toMatch(new RegExp(`model\\.json: weights manifest describes ${bin.byteLength} bytes but the shards hold ${bin.byteLength - 4} \\(weights\\.bin`));
  });

  it("names the file for a missing shard, bad JSON and a missing model.json", async () => {
    const dir = freshDir();
    await saveLayersModelToDir(tinyCnn(), dir);
    const json = JSON.parse(readFileSync(path.join(dir, "model.json"), "utf8")) as tf.io.ModelJSON;
    json.weightsManifest[0].paths = ["gone.bin"];
    writeFileSync(path.join(dir, "gone.json"), JSON.stringify(json));
    await expect(loadLayersModelFromFile(path.join(dir, "gone.json"))).rejects.toThrowError(/gone\.bin: weight shard listed in .*gone\.json cannot be read \(ENOENT\)/);
    writeFileSync(path.join(dir, "bad.json"), "{ nope");
    await expect(loadLayersModelFromFile(path.join(dir, "bad.json"))).rejects.toThrowError(/bad\.json: not valid JSON/);
    writeFileSync(path.join(dir, "empty.json"), "{}");
    await expect(loadLayersModelFromFile(path.join(dir, "empty.json"))).rejects.toThrowError(/empty\.json: no modelTopology/);
    await expect(loadLayersModelFromFile(path.join(dir, "absent.json"))).rejects.toThrowError(/absent\.json: cannot read \(ENOENT\)/);
  });
});
