import { describe, expect, it } from "vitest";
import { ConfigError, formatIssues } from "./config-error.js";

describe("ConfigError", () => {
  it("puts a single issue on one line with file and key path", () => {
    const error = new ConfigError("CONFIG_INVALID", "aggregator.yml", [{ path: "hyperparams.global.rounds", message: "got 0, expected an integer >= 1" }]);
    expect(error.message).toBe("aggregator.yml: hyperparams.global.rounds: got 0, expected an integer >= 1");
    expect(error.code).toBe("CONFIG_INVALID");
    expect(error.file).toBe("aggregator.yml");
    expect(error.path).toBe("hyperparams.global.rounds");
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe("ConfigError");
  });

  it("lists several issues one per line, each greppable on its own", () => {
    const message = formatIssues("party.yml", [
      { path: "data.name", message: "missing required key, expected a string" },
      { path: "", message: "the document is odd" },
    ]);
    expect(message).toBe(["party.yml: 2 problems:", "  party.yml: data.name: missing required key, expected a string", "  party.yml: the document is odd"].join("\n"));
  });
});
