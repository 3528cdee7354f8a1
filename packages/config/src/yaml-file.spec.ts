import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError } from "./config-error.js";
import { parseYaml, readYamlFile } from "./yaml-file.js";
import { tempDir } from "../../../test/helpers/temp-dirs.js";

describe("parseYaml", () => {
  it("reports a syntax error with the file and a 1-based line and column", () => {
    let caught: unknown;
    try {
      parseYaml("hyperparams:\n  global:\n    rounds: [1, 2\n    num_parties: 3\n", "aggregator.yml");
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    const error = caught as ConfigError;
    expect(error.code).toBe("CONFIG_SYNTAX");
    expect(error.file).toBe("aggregator.yml");
    expect(error.line).toBe(4);
    expect(error.message).toMatch(/^aggregator\.yml: line 4, column \d+: .+, expected valid YAML\n/);
  });

  it("treats a duplicated key as a syntax error instead of keeping the last value", () => {
    expect(() => parseYaml("rounds: 1\nrounds: 2\n", "a.yml")).toThrow(/^a\.yml: line 2, column 1: duplicated mapping key/);
  });

  it("parses JSON too", () => {
    expect(parseYaml('{"a": [1, 2]}', "spec.json")).toEqual({ a: [1, 2] });
  });
});

describe("readYamlFile", () => {
  it("reports a missing file as CONFIG_NOT_FOUND with its absolute path", async () => {
    const dir = await tempDir("cohort-config-");
    const missing = join(dir, "nope.yml");
    await expect(readYamlFile(missing, "nope.yml")).rejects.toMatchObject({
      code: "CONFIG_NOT_FOUND",
      message: `nope.yml: file not found (${missing}), expected a readable YAML file`,
    });
  });

  it("reads a file", async () => {
    const dir = await tempDir("cohort-config-");
    await writeFile(join(dir, "a.yml"), "a: 1\n");
    expect(await readYamlFile(join(dir, "a.yml"), "a.yml")).toEqual({ a: 1 });
  });
});
