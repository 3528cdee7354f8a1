import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { type ResolvedPath, resolvePathWithFallback, resolveSectionPaths } from "./path-fallback.js";
import { tempDir } from "../../../test/helpers/temp-dirs.js";

async function layout() {
  const root = await tempDir("cohort-paths-");
  const configs = join(root, "examples/configs/fedavg/keras");
  await mkdir(join(root, "examples/data"), { recursive: true });
  await mkdir(configs, { recursive: true });
  await writeFile(join(root, "examples/data/party0.npz"), "");
  await writeFile(join(configs, "local.npz"), "");
  return { root, configs };
}

describe("resolvePathWithFallback", () => {
  it("prefers the config's folder, falls back to the working directory, and otherwise stays with the config's folder", async () => {
    const { root, configs } = await layout();
    expect(resolvePathWithFallback("local.npz", configs, root)).toEqual({ path: join(configs, "local.npz"), against: "config folder" });
    expect(resolvePathWithFallback("examples/data/party0.npz", configs, root)).toEqual({ path: join(root, "examples/data/party0.npz"), against: "working directory" });
    expect(resolvePathWithFallback("nowhere.npz", configs, root)).toEqual({ path: join(configs, "nowhere.npz"), against: "config folder" });
    expect(resolvePathWithFallback("/abs/x.npz", configs, root)).toEqual({ path: "/abs/x.npz", against: "config folder" });
  });
});

describe("resolveSectionPaths", () => {
  it("rewrites only paths found under the working directory, records every relative one, custom_objects included", async () => {
    const { root, configs } = await layout();
    const resolved: ResolvedPath[] = [];
    const spec = { model_definition: "examples/data/party0.npz", model_weights: "local.npz", custom_objects: [{ key: "k", path: "examples/data/party0.npz" }], other: "x" };
    const out = resolveSectionPaths(spec, ["model_definition", "model_weights"], "model.spec", configs, resolved, { withCustomObjects: true, cwd: root });
    expect(out).toEqual({ ...spec, model_definition: join(root, "examples/data/party0.npz"), custom_objects: [{ key: "k", path: join(root, "examples/data/party0.npz") }] });
    expect(resolved.map((r) => [r.key, r.against])).toEqual([
      ["model.spec.model_definition", "working directory"], ["model.spec.model_weights", "config folder"], ["model.spec.custom_objects[0].path", "working directory"],
    ]);
    expect(spec.model_definition).toBe("examples/data/party0.npz"); // the input is not modified
  });
});
