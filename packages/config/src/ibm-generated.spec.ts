import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError } from "./config-error.js";
import { loadAggregatorConfig, parseAggregatorConfig } from "./aggregator-config.js";
import { loadPartyConfig, parsePartyConfig } from "./party-config.js";

/**
 * The files IBM FL's examples/generate_configs.py writes (test/ibm-fl-layout, written by its
 * generate.py in IBM's layout), loaded as a user in the IBM FL repository root loads them:
 * relative paths against the working directory, --insecure because they name no parties.
 */
const ROOT = resolve(import.meta.dirname, "../../../test/ibm-fl-layout");
const CASES = [
  { folder: "examples/configs/fedavg/pytorch", fusion: "fedavg", model: "PytorchFLModel", lr: 1, handler: "MnistPytorchDataHandler" },
  { folder: "examples/configs/iter_avg/keras", fusion: "iteravg", model: "KerasFLModel", lr: undefined, handler: "MnistKerasDataHandler" },
  { folder: "examples/configs/fedavg/tf", fusion: "fedavg", model: "TensorFlowFLModel", lr: undefined, handler: "MnistTFDataHandler" },
] as const;

async function errorOf(promise: Promise<unknown>): Promise<ConfigError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error("expected a ConfigError");
}

describe.each(CASES)("IBM FL's generated $folder", ({ folder, fusion, model, lr, handler }) => {
  it("the aggregator file loads unchanged with --insecure: no allow-list, its data section, lr from hyperparams.local.training", async () => {
    const config = await loadAggregatorConfig(join(ROOT, folder, "config_agg.yml"), undefined, { insecure: true, cwd: ROOT });
    expect(config.insecure).toBe(true);
    expect(config.parties).toEqual([]);
    expect(config.numParties).toBe(2);
    expect(config.rounds).toBe(3);
    expect(config.fusion.algorithm).toBe(fusion);
    expect(config.terminationAccuracy).toBe(0.9);
    expect(config.local.lr).toBe(lr);
    expect(config.data?.name).toBe(handler);
    // Not under the config's folder, so taken from the working directory, and said so.
    expect(config.paths).toContainEqual({ key: "data.info.npz_file", written: "examples/datasets/mnist.npz", path: join(ROOT, "examples/datasets/mnist.npz"), against: "working directory" });
    expect(config.ignored).toEqual(expect.arrayContaining(["connection.name", "fusion.path", "protocol_handler", "data.path"]));
  });

  it("the aggregator file without --insecure stops with an error naming both ways out", async () => {
    const error = await errorOf(loadAggregatorConfig(join(ROOT, folder, "config_agg.yml"), undefined, { cwd: ROOT }));
    expect(error.issues).toEqual([{ path: "parties", message: expect.stringMatching(/allow-list of parties .*or start with --insecure/) }]);
  });

  it("each party file loads unchanged with --insecure: named after its file, model path from the working directory", async () => {
    for (const index of [0, 1]) {
      const config = await loadPartyConfig(join(ROOT, folder, `config_party${index}.yml`), undefined, { insecure: true, cwd: ROOT });
      expect(config.name).toBe(`config_party${index}`);
      expect(config.token).toBe("");
      expect(config.model.name).toBe(model);
      expect(config.model.spec.model_definition).toBe(join(ROOT, folder, model === "TensorFlowFLModel" ? "" : model === "KerasFLModel" ? "compiled_keras.h5" : "pytorch_sequence.pt").replace(/\/$/, ""));
      expect(config.paths).toContainEqual(expect.objectContaining({ key: "model.spec.model_definition", against: "working directory" }));
      expect(config.ignored).toEqual(expect.arrayContaining(["privacy", "connection", "local_training.name", "data.path", "model.path"]));
    }
  });
});

describe("IBM FL keys and errors", () => {
  const minimal = (global: Record<string, unknown>) => ({ hyperparams: { global: { rounds: 1, ...global } } });

  it("hyperparams.global.parties is IBM FL's older num_parties; both given must agree", () => {
    expect(parseAggregatorConfig(minimal({ parties: 3 }), "a.yml", "/x", { insecure: true }).numParties).toBe(3);
    expect(() => parseAggregatorConfig(minimal({ parties: 3, num_parties: 2 }), "a.yml", "/x", { insecure: true }))
      .toThrow("a.yml: hyperparams.global.parties: got 3 while num_parties is 2, expected the number of parties given once");
  });

  it("an aggregator file with a bad key and no allow-list hears of both at once", () => {
    let error: ConfigError | undefined;
    try {
      parseAggregatorConfig({ ...minimal({ num_parties: 2 }), metrics_recorders: {} }, "a.yml", "/x");
    } catch (e) {
      error = e as ConfigError;
    }
    expect(error?.issues.map((i) => i.path)).toEqual(["metrics_recorders", "parties"]);
    expect(error?.issues[0]!.message).toBe('unknown key (did you mean "metrics_recorder"?)');
  });

  it("two learning rates that differ are refused", () => {
    const raw = { hyperparams: { global: { num_parties: 1 }, local: { training: { lr: 1 }, optimizer: { lr: 0.1 } } } };
    expect(() => parseAggregatorConfig(raw, "a.yml", "/x", { insecure: true })).toThrow(/hyperparams\.local\.training\.lr: got 1 while hyperparams\.local\.optimizer\.lr is 0\.1/);
  });

  it("--insecure refuses a config that turns TLS on", () => {
    const raw = { ...minimal({ num_parties: 1 }), connection: { info: { tls_config: { enable: true, cert: "a.pem", key: "a.key" } } } };
    expect(() => parseAggregatorConfig(raw, "a.yml", "/x", { insecure: true })).toThrow("connection.info.tls_config.enable: got true with --insecure");
  });

  it("a party file reports a bad key, the missing name, the missing token and a Python data handler together", () => {
    const raw = { aggregator: { ip: "h" }, data: { name: "MyDataHandler", path: "custom_data_handler.py" }, model: { name: "TfjsModel", spec: {} }, privacy: { metrics: true }, rouge: 1 };
    let error: ConfigError | undefined;
    try {
      parsePartyConfig(raw, "p.yml", "/x");
    } catch (e) {
      error = e as ConfigError;
    }
    expect(error?.issues.map((i) => i.path)).toEqual(["rouge", "party.name", "token", "data.path"]);
  });

  it("a Python data handler is an error that says how to write the JS module; a .mjs one is taken", () => {
    const raw = { aggregator: { ip: "h" }, data: { name: "MyDataHandler", path: "custom_data_handler.py" }, model: { name: "TfjsModel", spec: {} } };
    expect(() => parsePartyConfig(raw, "p.yml", "/x", { insecure: true })).toThrow(/data\.path: got "custom_data_handler\.py", a Python data handler .*default export/);
    const js = { ...raw, data: { name: "MyDataHandler", path: "handler.mjs" } };
    expect(parsePartyConfig(js, "p.yml", "/x", { insecure: true }).data.module).toBe("/x/handler.mjs");
  });
});
