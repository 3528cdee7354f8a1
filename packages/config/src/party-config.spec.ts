import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { ConfigError } from "./config-error.js";
import { loadPartyConfig, parsePartyConfig } from "./party-config.js";
import { tempDir } from "../../../test/helpers/temp-dirs.js";

/** An IBM FL party config as generate_configs writes it, plus Cohort's name and token. */
function ibmConfig(): Record<string, unknown> {
  return {
    aggregator: { ip: "10.0.0.5", port: 5000 },
    connection: { name: "FlaskConnection", path: "ibmfl.connection.flask_connection", info: { ip: "127.0.0.1", port: 8085 }, sync: false },
    data: { name: "MnistKerasDataHandler", path: "ibmfl.util.data_handlers.mnist_keras_data_handler", info: { npz_file: "data/party0.npz" } },
    local_training: { name: "LocalTrainingHandler", path: "ibmfl.party.training.local_training_handler" },
    model: { name: "KerasFLModel", path: "ibmfl.model.keras_fl_model", spec: { model_name: "keras-cnn", model_definition: "model.h5" } },
    protocol_handler: { name: "PartyProtocolHandler", path: "ibmfl.party.party_protocol_handler" },
    party: { name: "party0" },
    token: "token-of-party0",
  };
}

function errorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error("expected a ConfigError");
}

afterEach(() => {
  vi.unstubAllEnvs();
});

describe("parsePartyConfig", () => {
  it("normalizes an IBM FL party config and lists the keys it ignored", () => {
    expect(parsePartyConfig(ibmConfig(), "party0.yml", "/data/p0")).toEqual({
      file: "party0.yml",
      baseDir: "/data/p0",
      name: "party0",
      token: "token-of-party0",
      aggregator: { host: "10.0.0.5", port: 5000 },
      data: { name: "MnistKerasDataHandler", info: { npz_file: "data/party0.npz" }, baseDir: "/data/p0" },
      model: { name: "KerasFLModel", spec: { model_name: "keras-cnn", model_definition: "model.h5" }, specBaseDir: "/data/p0" },
      localOverrides: {},
      backend: "auto",
      reconnect: { initialDelayMs: 500, maxDelayMs: 10_000, maxAttempts: 0 },
      keepalive: { timeMs: 30_000, timeoutMs: 10_000 },
      ignored: ["connection", "protocol_handler", "local_training.name", "local_training.path", "data.path", "model.path"],
      paths: [
        { key: "data.info.npz_file", written: "data/party0.npz", path: "/data/p0/data/party0.npz", against: "config folder" },
        { key: "model.spec.model_definition", written: "model.h5", path: "/data/p0/model.h5", against: "config folder" },
      ],
      insecure: false,
    });
  });

  it("accepts a top-level name, credentials.token, model.info and local overrides", () => {
    const raw = {
      ...ibmConfig(),
      party: undefined,
      name: "party7",
      token: undefined,
      credentials: { token: "credential-token" },
      model: { name: "TfjsModel", info: { model_definition: "model.json" } },
      local_training: { epochs: 2, batch_size: 16, lr: 0.1, name: "LocalTrainingHandler" },
      backend: "wasm",
    };
    const config = parsePartyConfig(raw, "p.yml", "/p");
    expect(config.name).toBe("party7");
    expect(config.token).toBe("credential-token");
    expect(config.model).toEqual({ name: "TfjsModel", spec: { model_definition: "model.json" }, specBaseDir: "/p" });
    expect(config.localOverrides).toEqual({ epochs: 2, batchSize: 16, lr: 0.1 });
    expect(config.backend).toBe("wasm");
  });

  it("reads the token from token_env and names the variable when it is unset", () => {
    vi.stubEnv("COHORT_TEST_PARTY_TOKEN", "environment-token");
    const raw = { ...ibmConfig(), token: undefined, token_env: "COHORT_TEST_PARTY_TOKEN" };
    expect(parsePartyConfig(raw, "p.yml", "/p").token).toBe("environment-token");
    vi.stubEnv("COHORT_TEST_PARTY_TOKEN", "");
    expect(errorOf(() => parsePartyConfig(raw, "p.yml", "/p")).message).toBe(
      "p.yml: token_env: environment variable COHORT_TEST_PARTY_TOKEN is not set, expected it to hold the token",
    );
  });

  it("reports a missing name and a missing token together", () => {
    const raw = { ...ibmConfig(), party: undefined, token: undefined };
    expect(errorOf(() => parsePartyConfig(raw, "p.yml", "/p")).issues).toEqual([
      { path: "party.name", message: "missing required key, expected the party's name (party.name, or a top-level name)" },
      { path: "token", message: "missing required key, expected a token of at least 8 characters (or token_env naming an environment variable that holds it)" },
    ]);
  });

  it("reports typos, wrong types and missing keys in one error", () => {
    const raw = { ...ibmConfig(), backend: "gpu", data: { nmae: "mnist" }, aggregator: { host: "10.0.0.5", port: 5000 }, reconect: {} };
    const error = errorOf(() => parsePartyConfig(raw, "party0.yml", "/p"));
    expect(error.message.split("\n")).toEqual([
      "party0.yml: 6 problems:",
      "  party0.yml: aggregator.ip: missing required key, expected the aggregator's host name or IP address",
      '  party0.yml: aggregator.host: unknown key (did you mean "ip"?)',
      "  party0.yml: data.name: missing required key, expected a data handler name such as mnist, npz or csv",
      '  party0.yml: data.nmae: unknown key (did you mean "name"?)',
      '  party0.yml: backend: got "gpu", expected one of "auto", "tensorflow", "wasm", "cpu"',
      '  party0.yml: reconect: unknown key (did you mean "reconnect"?)',
    ]);
  });

  it("requires a model spec, and only one of spec and info", () => {
    const none = { ...ibmConfig(), model: { name: "KerasFLModel" } };
    expect(errorOf(() => parsePartyConfig(none, "p.yml", "/p")).message).toBe(
      "p.yml: model.spec: missing required key, expected a mapping or the path of a YAML/JSON spec file (IBM FL's model.info is accepted too)",
    );
    const both = { ...ibmConfig(), model: { name: "KerasFLModel", spec: {}, info: {} } };
    expect(errorOf(() => parsePartyConfig(both, "p.yml", "/p")).message).toBe("p.yml: model.info: got both spec and info, expected the model spec under only one of them");
    const list = { ...ibmConfig(), model: { name: "KerasFLModel", spec: [1, 2] } };
    expect(errorOf(() => parsePartyConfig(list, "p.yml", "/p")).message).toBe(
      "p.yml: model.spec: got a list of 2, expected a mapping or the path of a YAML/JSON spec file",
    );
  });

  it("rejects a reconnect ceiling below its initial delay", () => {
    const raw = { ...ibmConfig(), reconnect: { initial_delay_ms: 5000, max_delay_ms: 100 } };
    expect(errorOf(() => parsePartyConfig(raw, "p.yml", "/p")).message).toBe("p.yml: reconnect.max_delay_ms: got 100, expected at least initial_delay_ms (5000)");
  });
});

describe("loadPartyConfig", () => {
  it("loads a model spec file and resolves it against the config's directory", async () => {
    const dir = await tempDir("cohort-config-");
    await writeFile(join(dir, "cnn.yml"), "model_definition: weights/model.json\ncompiled_options:\n  loss: categoricalCrossentropy\n");
    const { mkdir } = await import("node:fs/promises");
    await mkdir(join(dir, "configs"));
    const file = join(dir, "configs", "party0.yml");
    await writeFile(file, "aggregator: {ip: 127.0.0.1}\nname: party0\ntoken: token-of-party0\ndata: {name: npz, info: {npz_file: d.npz}}\nmodel:\n  name: TfjsModel\n  spec: ../cnn.yml\n");
    const config = await loadPartyConfig(file);
    expect(config.baseDir).toBe(join(dir, "configs"));
    expect(config.data).toEqual({ name: "npz", info: { npz_file: "d.npz" }, baseDir: join(dir, "configs") });
    expect(config.model).toEqual({
      name: "TfjsModel",
      spec: { model_definition: "weights/model.json", compiled_options: { loss: "categoricalCrossentropy" } },
      specBaseDir: dir,
      specFile: join(dir, "cnn.yml"),
    });
  });

  it("names a missing or broken spec file under model.spec", async () => {
    const dir = await tempDir("cohort-config-");
    const raw = { ...ibmConfig(), model: { name: "TfjsModel", spec: "missing.json" } };
    expect(errorOf(() => parsePartyConfig(raw, "p.yml", dir)).message).toBe(
      `p.yml: model.spec: spec file ${join(dir, "missing.json")}: file not found, expected an existing YAML or JSON spec file`,
    );
    await writeFile(join(dir, "broken.json"), '{"a": 1,,}');
    const broken = { ...ibmConfig(), model: { name: "TfjsModel", spec: "broken.json" } };
    expect(errorOf(() => parsePartyConfig(broken, "p.yml", dir)).message).toMatch(
      new RegExp(`^p\\.yml: model\\.spec: spec file ${join(dir, "broken.json").replace(/[.]/g, "\\.")}: line 1, column \\d+: .+, expected valid YAML or JSON$`),
    );
    await writeFile(join(dir, "list.yml"), "- a\n- b\n");
    const list = { ...ibmConfig(), model: { name: "TfjsModel", info: "list.yml" } };
    expect(errorOf(() => parsePartyConfig(list, "p.yml", dir)).message).toBe(`p.yml: model.info: spec file ${join(dir, "list.yml")} holds a list, expected a mapping of spec keys`);
  });
});

describe("parsePartyConfig keepalive", () => {
  it("reads keepalive and names a bad key", () => {
    expect(parsePartyConfig({ ...ibmConfig(), keepalive: { time_ms: 15_000 } }, "p.yml", "/x").keepalive).toEqual({ timeMs: 15_000, timeoutMs: 10_000 });
    expect(() => parsePartyConfig({ ...ibmConfig(), keepalive: { time_ms: 5 } }, "p.yml", "/x")).toThrow(
      "p.yml: keepalive.time_ms: got 5, expected an integer >= 1000 (milliseconds; at least the aggregator's min_ping_interval_ms)",
    );
  });

  it("reads the training seed and names a bad one", () => {
    expect(parsePartyConfig({ ...ibmConfig(), seed: 7 }, "p.yml", "/x").seed).toBe(7);
    expect(parsePartyConfig(ibmConfig(), "p.yml", "/x").seed).toBeUndefined();
    expect(() => parsePartyConfig({ ...ibmConfig(), seed: -1 }, "p.yml", "/x")).toThrow(
      "p.yml: seed: got -1, expected an integer from 0 to 4294967295 (seeds the shuffling of local training)",
    );
  });
});
