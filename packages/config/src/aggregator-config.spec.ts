import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { loadAggregatorConfig, parseAggregatorConfig } from "./aggregator-config.js";
import { ConfigError } from "./config-error.js";
import { tempDir, tempDirSync } from "../../../test/helpers/temp-dirs.js";

/** An IBM FL aggregator config as its generate_configs script writes it, plus Cohort's parties. */
function ibmConfig(): Record<string, unknown> {
  return {
    connection: {
      name: "FlaskConnection",
      path: "ibmfl.connection.flask_connection",
      info: { ip: "127.0.0.1", port: 5000, tls_config: { enable: false } },
      sync: false,
    },
    fusion: { name: "IterAvgFusionHandler", path: "ibmfl.aggregator.fusion.iter_avg_fusion_handler" },
    hyperparams: {
      global: { rounds: 10, num_parties: 2, perc_quorum: 0.5, max_timeout: 60, termination_accuracy: 0.9 },
      local: { training: { epochs: 3 }, optimizer: { lr: 0.01 } },
    },
    protocol_handler: { name: "ProtoHandler", path: "ibmfl.aggregator.protohandler.proto_handler" },
    aggregator: { name: "Aggregator", path: "ibmfl.aggregator.aggregator" },
    parties: [
      { name: "party0", token: "token-of-party0" },
      { name: "party1", token: "token-of-party1" },
    ],
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

describe("parseAggregatorConfig", () => {
  it("normalizes an IBM FL config and lists the keys it ignored", () => {
    const config = parseAggregatorConfig(ibmConfig(), "aggregator.yml", "/srv/fl");
    expect(config).toEqual({
      file: "aggregator.yml",
      baseDir: "/srv/fl",
      connection: { host: "127.0.0.1", port: 5000, chunkSize: 262144, keepalive: { timeMs: 30_000, timeoutMs: 10_000, minPingIntervalMs: 10_000 } },
      fusion: { algorithm: "iteravg", ibmName: "IterAvgFusionHandler", negativeLoss: "refuse" },
      rounds: 10,
      numParties: 2,
      percQuorum: 0.5,
      maxTimeoutMs: 60_000,
      deadlines: { downloadMs: 60_000, trainMs: 60_000, uploadMs: 60_000, evaluateMs: 60_000 },
      terminationAccuracy: 0.9,
      evaluateEvery: 1,
      updateEncoding: "float32",
      local: { epochs: 3, batchSize: 32, validationSplit: 0, lr: 0.01 },
      outputDir: "/srv/fl/runs/latest",
      parties: [
        { name: "party0", token: "token-of-party0" },
        { name: "party1", token: "token-of-party1" },
      ],
      insecure: false,
      paths: [],
      ignored: ["connection.name", "connection.path", "connection.sync", "fusion.path", "aggregator", "protocol_handler"],
    });
  });

  it("applies defaults to a minimal config", () => {
    const config = parseAggregatorConfig({ hyperparams: { global: { num_parties: 1 } }, parties: [{ name: "p", token: "12345678" }] }, "a.yml", "/x");
    expect(config.connection).toEqual({ host: "0.0.0.0", port: 50051, chunkSize: 262144, keepalive: { timeMs: 30_000, timeoutMs: 10_000, minPingIntervalMs: 10_000 } });
    expect(config.fusion).toEqual({ algorithm: "fedavg", negativeLoss: "refuse" });
    expect(config.rounds).toBe(3);
    expect(config.maxTimeoutMs).toBe(600_000);
    expect(config.deadlines).toEqual({ downloadMs: 600_000, trainMs: 600_000, uploadMs: 600_000, evaluateMs: 600_000 });
    expect(config.percQuorum).toBe(1);
    expect(config.local).toEqual({ epochs: 1, batchSize: 32, validationSplit: 0 });
    expect(config.ignored).toEqual([]);
    expect("terminationAccuracy" in config).toBe(false);
  });

  it("reads compression (none by default: float32 updates) and names the key of an unknown one", () => {
    const raw = ibmConfig();
    const global = (raw.hyperparams as { global: Record<string, unknown> }).global;
    global.compression = "int8";
    expect(parseAggregatorConfig(raw, "a.yml", "/x").updateEncoding).toBe("int8");
    global.compression = "float8";
    const error = errorOf(() => parseAggregatorConfig(raw, "a.yml", "/x"));
    expect(error.issues).toEqual([expect.objectContaining({ path: "hyperparams.global.compression", message: expect.stringMatching(/got "float8", expected one of "none", "float16", "int8"/) })]);
  });

  it("reads secure_aggregation (absent: off) and names the key of a bad value", () => {
    const raw = ibmConfig();
    const global = (raw.hyperparams as { global: Record<string, unknown> }).global;
    expect(parseAggregatorConfig(raw, "a.yml", "/x").secureAggregation).toBeUndefined();
    global.secure_aggregation = {};
    expect(parseAggregatorConfig(raw, "a.yml", "/x").secureAggregation).toEqual({});
    global.secure_aggregation = { threshold: 0.75, clipping_range: 2, quantization_bits: 20, neighbours: 8 };
    expect(parseAggregatorConfig(raw, "a.yml", "/x").secureAggregation).toEqual({ threshold: 0.75, clippingRange: 2, quantizationBits: 20, neighbours: 8 });
    global.secure_aggregation = { threshold: 2.5, quantization_bits: 40 };
    const error = errorOf(() => parseAggregatorConfig(raw, "a.yml", "/x"));
    expect(error.issues).toEqual([expect.objectContaining({ path: "hyperparams.global.secure_aggregation.quantization_bits" })]);
    global.secure_aggregation = { threshold: 2.5 };
    expect(errorOf(() => parseAggregatorConfig(raw, "a.yml", "/x")).issues).toEqual([
      expect.objectContaining({ path: "hyperparams.global.secure_aggregation.threshold", message: expect.stringMatching(/got 2.5, expected a fraction in \(0.5, 1\] of the shares each party deals or a whole count >= 2/) }),
    ]);
  });

  it("reads per-phase deadlines in seconds, each defaulting to max_timeout, and names the key of a bad one", () => {
    const raw = ibmConfig();
    const global = (raw.hyperparams as { global: Record<string, unknown> }).global;
    global.max_timeout = 120;
    global.deadlines = { train: 90, upload: 30 };
    expect(parseAggregatorConfig(raw, "a.yml", "/x").deadlines).toEqual({ downloadMs: 120_000, trainMs: 90_000, uploadMs: 30_000, evaluateMs: 120_000 });

    global.deadlines = { download: 0, train: 300, evaluate: "soon", uplod: 5 };
    const error = errorOf(() => parseAggregatorConfig(raw, "a.yml", "/x"));
    expect(error.issues).toEqual(expect.arrayContaining([
      { path: "hyperparams.global.deadlines.download", message: "got 0, expected a number > 0 (seconds)" },
      { path: "hyperparams.global.deadlines.evaluate", message: 'got "soon", expected a number > 0 (seconds)' },
      expect.objectContaining({ path: "hyperparams.global.deadlines.uplod", message: expect.stringContaining('did you mean "upload"') }),
    ]));
    global.deadlines = { train: 300 };
    expect(errorOf(() => parseAggregatorConfig(raw, "a.yml", "/x")).message).toBe(
      "a.yml: hyperparams.global.deadlines.train: got 300, expected at most max_timeout (120 s), which closes the round's training phase",
    );
  });

  it("reads the keepalive settings and checks them", () => {
    const raw = ibmConfig();
    const info = (raw.connection as { info: Record<string, unknown> }).info;
    info.keepalive = { time_ms: 20_000, min_ping_interval_ms: 5_000 };
    expect(parseAggregatorConfig(raw, "a.yml", "/x").connection.keepalive).toEqual({ timeMs: 20_000, timeoutMs: 10_000, minPingIntervalMs: 5_000 });
    info.keepalive = { timeout_ms: 10 };
    expect(errorOf(() => parseAggregatorConfig(raw, "a.yml", "/x")).message).toBe(
      "a.yml: connection.info.keepalive.timeout_ms: got 10, expected an integer >= 1000 (milliseconds)",
    );
  });

  it("reads the peer limits a config sets, leaves the others to the aggregator, and checks them", () => {
    const raw = ibmConfig();
    const info = (raw.connection as { info: Record<string, unknown> }).info;
    expect(parseAggregatorConfig(raw, "a.yml", "/x").connection.limits).toBeUndefined();
    info.limits = { max_rejections: 0, upload_idle_ms: 120_000 };
    expect(parseAggregatorConfig(raw, "a.yml", "/x").connection.limits).toEqual({ maxRejections: 0, uploadIdleMs: 120_000 });
    info.limits = { rejection_window_ms: 30_000, rejection_cooldown_ms: 5_000 };
    expect(parseAggregatorConfig(raw, "a.yml", "/x").connection.limits).toEqual({ rejectionWindowMs: 30_000, rejectionCooldownMs: 5_000 });
    info.limits = { handshake_timeout_ms: 2_000, unauthenticated_idle_ms: 5_000, max_unauthenticated_per_address: 8, max_unauthenticated_connections: 64 };
    expect(parseAggregatorConfig(raw, "a.yml", "/x").connection.limits).toEqual({ handshakeTimeoutMs: 2_000, unauthenticatedIdleMs: 5_000, maxUnauthenticatedPerAddress: 8, maxUnauthenticatedConnections: 64 });
    info.limits = { max_unauthenticated_per_address: 0 };
    expect(errorOf(() => parseAggregatorConfig(raw, "a.yml", "/x")).message).toBe(
      "a.yml: connection.info.limits.max_unauthenticated_per_address: got 0, expected an integer >= 1 (connections)",
    );
    info.limits = { max_rejections: -1 };
    expect(errorOf(() => parseAggregatorConfig(raw, "a.yml", "/x")).message).toBe(
      "a.yml: connection.info.limits.max_rejections: got -1, expected an integer >= 0 (refused calls; 0 turns the limit off)",
    );
    info.limits = { upload_idle: 5000 };
    expect(errorOf(() => parseAggregatorConfig(raw, "a.yml", "/x")).message).toBe(
      'a.yml: connection.info.limits.upload_idle: unknown key (did you mean "upload_idle_ms"?)',
    );
  });

  it("reports an unknown key with the closest known key", () => {
    const raw = ibmConfig();
    (raw.hyperparams as { global: Record<string, unknown> }).global.rouns = 5;
    const error = errorOf(() => parseAggregatorConfig(raw, "aggregator.yml", "/x"));
    expect(error.code).toBe("CONFIG_INVALID");
    expect(error.message).toBe('aggregator.yml: hyperparams.global.rouns: unknown key (did you mean "rounds"?)');
    expect(error.path).toBe("hyperparams.global.rouns");
  });

  it("lists the known keys when no key is close", () => {
    const raw = { ...ibmConfig(), zzz: 1 };
    expect(errorOf(() => parseAggregatorConfig(raw, "a.yml", "/x")).message).toBe(
      'a.yml: zzz: unknown key, expected one of "connection", "fusion", "hyperparams", "model", "output_dir", "metrics", "parties", "data", "metrics_recorder", "aggregator", "protocol_handler"',
    );
  });

  it("says which type it expected and what it got", () => {
    const raw = ibmConfig();
    (raw.connection as { info: Record<string, unknown> }).info.port = "5000";
    expect(errorOf(() => parseAggregatorConfig(raw, "a.yml", "/x")).message).toBe(
      'a.yml: connection.info.port: got "5000", expected an integer from 0 to 65535 (0 picks a free port)',
    );
  });

  it("checks ranges", () => {
    const raw = ibmConfig();
    (raw.connection as { info: Record<string, unknown> }).info.chunk_size = 8 * 1024 * 1024;
    (raw.hyperparams as { global: Record<string, unknown> }).global.perc_quorum = 0;
    const error = errorOf(() => parseAggregatorConfig(raw, "a.yml", "/x"));
    expect(error.issues).toEqual([
      { path: "connection.info.chunk_size", message: "got 8388608, expected an integer from 1024 to 4128768 (bytes)" },
      { path: "hyperparams.global.perc_quorum", message: "got 0, expected a number > 0 and <= 1" },
    ]);
  });

  it("reports a missing required key", () => {
    const error = errorOf(() => parseAggregatorConfig({ hyperparams: { global: {} }, parties: [{ name: "a", token: "12345678" }] }, "a.yml", "/x"));
    expect(error.message).toBe("a.yml: hyperparams.global.num_parties: missing required key, expected the number of parties to wait for, an integer >= 1 (IBM FL's older name parties is accepted too)");
  });

  it("rejects an unknown fusion algorithm, listing the accepted names", () => {
    const raw = { ...ibmConfig(), fusion: { name: "FedMagic" } };
    expect(errorOf(() => parseAggregatorConfig(raw, "a.yml", "/x")).message).toMatch(
      /^a\.yml: fusion\.name: got "FedMagic", expected one of "fedavg", "iteravg", "fedprox", "coordinate-median", "trimmed-mean", "krum", "multi-krum", "fedadam", "fedyogi", "fedadagrad", "fedavgm" or an IBM FL name/,
    );
  });

  it("says why an IBM FL fusion handler without an equivalent is refused", () => {
    const raw = { ...ibmConfig(), fusion: { name: "ZenoFusionHandler" } };
    expect(errorOf(() => parseAggregatorConfig(raw, "a.yml", "/x")).message).toMatch(/fusion\.name: got "ZenoFusionHandler", expected a fusion algorithm Cohort supports \(ZenoFusionHandler has no equivalent: Zeno scores gradients on validation data/);
  });

  it("maps IBM FL's robust handlers and reads each algorithm's parameters under fusion", () => {
    const median = parseAggregatorConfig({ ...ibmConfig(), fusion: { name: "CoordinateMedianFusionHandler" } }, "a.yml", "/x");
    expect(median.fusion).toEqual({ algorithm: "coordinate-median", ibmName: "CoordinateMedianFusionHandler", negativeLoss: "refuse" });
    const krum = parseAggregatorConfig({ ...ibmConfig(), fusion: { name: "KrumFusionHandler", byzantine: 2, max_update_norm: 50, on_large_update: "refuse" } }, "a.yml", "/x");
    expect(krum.fusion).toEqual({ algorithm: "krum", ibmName: "KrumFusionHandler", params: { byzantine: 2 }, maxUpdateNorm: 50, onLargeUpdate: "refuse", negativeLoss: "refuse" });
    const adam = parseAggregatorConfig({ ...ibmConfig(), fusion: { name: "FedAdam", server_lr: 0.03, beta1: 0.8, tau: 0.001 } }, "a.yml", "/x");
    expect(adam.fusion.params).toEqual({ eta: 0.03, beta1: 0.8, tau: 0.001 });
    const trimmed = parseAggregatorConfig({ ...ibmConfig(), fusion: { name: "trimmed-mean", trim_fraction: 0.2, max_update_norm: 10 } }, "a.yml", "/x");
    expect(trimmed.fusion).toEqual({ algorithm: "trimmed-mean", ibmName: "trimmed-mean", params: { beta: 0.2 }, maxUpdateNorm: 10, onLargeUpdate: "clip", negativeLoss: "refuse" });
    const cosine = parseAggregatorConfig({ ...ibmConfig(), fusion: { name: "fedavg", negative_loss: "accept" } }, "a.yml", "/x");
    expect(cosine.fusion.negativeLoss).toBe("accept");
    expect(errorOf(() => parseAggregatorConfig({ ...ibmConfig(), fusion: { name: "fedavg", negative_loss: "yes" } }, "a.yml", "/x")).message).toMatch(/^a\.yml: fusion\.negative_loss: got "yes", expected one of/);
  });

  it("reads IBM FL's hyperparams.global.byzantine_threshold as Krum's f, and refuses it elsewhere or twice different", () => {
    const withThreshold = (fusion: Record<string, unknown>) => {
      const raw = ibmConfig() as { hyperparams: { global: Record<string, unknown> } };
      return { ...raw, fusion, hyperparams: { ...raw.hyperparams, global: { ...raw.hyperparams.global, byzantine_threshold: 2 } } };
    };
    expect(parseAggregatorConfig(withThreshold({ name: "KrumFusionHandler" }), "a.yml", "/x").fusion.params).toEqual({ byzantine: 2 });
    expect(errorOf(() => parseAggregatorConfig(withThreshold({ name: "KrumFusionHandler", byzantine: 1 }), "a.yml", "/x")).message)
      .toBe("a.yml: hyperparams.global.byzantine_threshold: got 2 while fusion.byzantine is 1, expected the number given once");
    expect(errorOf(() => parseAggregatorConfig(withThreshold({ name: "FedAvgFusionHandler" }), "a.yml", "/x")).message)
      .toBe("a.yml: hyperparams.global.byzantine_threshold: fedavg takes no byzantine threshold; expected it with krum or multi-krum (KrumFusionHandler)");
  });

  it("refuses IBM FL's AFA, comparative elimination and shuffled iterative averaging, saying what to use", () => {
    for (const [name, hint] of [["AFAFusionHandler", /AFA.*use krum/], ["ComparativeEliminationFusionHandler", /use multi-krum/], ["ShuffleIterAvgFusionHandler", /shared secret.*use iteravg/]] as const) {
      expect(errorOf(() => parseAggregatorConfig({ ...ibmConfig(), fusion: { name } }, "a.yml", "/x")).message).toMatch(hint);
    }
  });

  it("refuses a parameter the fusion algorithm does not take, and one out of range, naming the key", () => {
    const wrong = { ...ibmConfig(), fusion: { name: "FedAvg", mu: 0.1 } };
    expect(errorOf(() => parseAggregatorConfig(wrong, "a.yml", "/x")).message).toBe("a.yml: fusion.mu: fedavg takes no mu; expected no parameters");
    const range = { ...ibmConfig(), fusion: { name: "trimmed-mean", trim_fraction: 0.5 } };
    expect(errorOf(() => parseAggregatorConfig(range, "a.yml", "/x")).message).toMatch(/^a\.yml: fusion\.trim_fraction: got 0\.5, expected a number/);
  });

  it("reports num_parties above the number of allowed parties, naming both", () => {
    const raw = ibmConfig();
    (raw.hyperparams as { global: Record<string, unknown> }).global.num_parties = 3;
    expect(errorOf(() => parseAggregatorConfig(raw, "a.yml", "/x")).message).toBe(
      "a.yml: hyperparams.global.num_parties: got 3, expected at most 2 (the number of entries in parties)",
    );
  });

  it("reads a token from the environment and names an unset variable", () => {
    vi.stubEnv("COHORT_TEST_TOKEN_SET", "from-the-environment");
    vi.stubEnv("COHORT_TEST_TOKEN_UNSET", "");
    const raw = { ...ibmConfig(), parties: [{ name: "party0", token_env: "COHORT_TEST_TOKEN_SET" }, { name: "party1", token: "token-of-party1" }] };
    expect(parseAggregatorConfig(raw, "a.yml", "/x").parties[0]).toEqual({ name: "party0", token: "from-the-environment" });

    const unset = { ...raw, parties: [{ name: "party0", token_env: "COHORT_TEST_TOKEN_UNSET" }, { name: "party1", token: "token-of-party1" }] };
    expect(errorOf(() => parseAggregatorConfig(unset, "a.yml", "/x")).message).toBe(
      "a.yml: parties[0].token_env: environment variable COHORT_TEST_TOKEN_UNSET is not set, expected it to hold the token",
    );
  });

  it("rejects duplicate party names, short tokens without echoing them, and a party with no token", () => {
    const raw = { ...ibmConfig(), parties: [{ name: "p", token: "short" }, { name: "p", token: "long-enough" }, { name: "q" }] };
    const error = errorOf(() => parseAggregatorConfig(raw, "a.yml", "/x"));
    expect(error.issues).toEqual([{ path: "parties[0].token", message: "got a string of 5 characters, expected a token of at least 8 characters" }]);
    expect(error.message).not.toContain("short");

    const second = { ...raw, parties: [{ name: "p", token: "long-enough" }, { name: "p", token: "long-enough-2" }, { name: "q" }] };
    expect(errorOf(() => parseAggregatorConfig(second, "a.yml", "/x")).issues).toEqual([
      { path: "parties[1].name", message: 'got "p" again (also parties[0]), expected unique party names' },
      { path: "parties[2].token", message: "missing required key, expected a token of at least 8 characters (or token_env naming an environment variable that holds it)" },
    ]);
  });

  it("requires cert and key when TLS is enabled", () => {
    const raw = ibmConfig();
    (raw.connection as { info: Record<string, unknown> }).info.tls_config = { enable: true };
    expect(errorOf(() => parseAggregatorConfig(raw, "a.yml", "/x")).message).toBe(
      "a.yml: connection.info.tls_config: got enable: true without cert and key, expected both a certificate and a private key file",
    );
  });

  it("accepts IBM FL's ca_cert for the CA file, but not together with ca", async () => {
    const { writeFileSync } = await import("node:fs");
    const dir = tempDirSync("cohort-tls-");
    for (const f of ["a.pem", "a.key", "ca.pem"]) writeFileSync(join(dir, f), "-----BEGIN-----\n");
    const raw = ibmConfig();
    const info = (raw.connection as { info: Record<string, unknown> }).info;
    info.tls_config = { enable: true, cert: "a.pem", key: "a.key", ca_cert: "ca.pem" };
    expect(parseAggregatorConfig(raw, "a.yml", dir).connection.tls?.caFile).toBe(join(dir, "ca.pem"));
    info.tls_config = { enable: true, cert: "a.pem", key: "a.key", ca_cert: "ca.pem", ca: "ca.pem" };
    expect(errorOf(() => parseAggregatorConfig(raw, "a.yml", dir)).message).toBe(
      "a.yml: connection.info.tls_config.ca_cert: got both ca and ca_cert, expected one of them (ca_cert is IBM FL's name for ca)",
    );
  });

  it("reports every problem in one error, one per line", () => {
    const raw = {
      conection: {},
      hyperparams: { global: { rounds: 0, num_parties: 1.5 }, local: { training: { batchSize: 8 } } },
      parties: "party0",
    };
    const error = errorOf(() => parseAggregatorConfig(raw, "aggregator.yml", "/x"));
    expect(error.message.split("\n")).toEqual([
      "aggregator.yml: 5 problems:",
      "  aggregator.yml: hyperparams.global.rounds: got 0, expected an integer >= 1",
      "  aggregator.yml: hyperparams.global.num_parties: got 1.5, expected an integer >= 1",
      '  aggregator.yml: hyperparams.local.training.batchSize: unknown key (did you mean "batch_size"?)',
      '  aggregator.yml: parties: got "party0", expected a list of allowed parties, each with name and token',
      '  aggregator.yml: conection: unknown key (did you mean "connection"?)',
    ]);
    expect(error.issues).toHaveLength(5);
  });

  it("rejects an empty document and a document that is not a mapping", () => {
    expect(errorOf(() => parseAggregatorConfig(null, "a.yml", "/x")).message).toBe("a.yml: the document is empty, expected a mapping of config keys");
    expect(errorOf(() => parseAggregatorConfig([1], "a.yml", "/x")).message).toBe("a.yml: got a list of 1, expected a mapping of aggregator config keys");
  });
});

describe("loadAggregatorConfig", () => {
  it("resolves output_dir against the config file's directory and applies overrides", async () => {
    const dir = await tempDir("cohort-config-");
    const file = join(dir, "aggregator.yml");
    await writeFile(file, "hyperparams:\n  global:\n    num_parties: 1\noutput_dir: out/run1\nparties:\n  - name: p\n    token: 12345678x\n");
    const config = await loadAggregatorConfig(file, { connection: { info: { port: 0 } } });
    expect(config.file).toBe(file);
    expect(config.baseDir).toBe(dir);
    expect(config.outputDir).toBe(join(dir, "out/run1"));
    expect(config.connection.port).toBe(0);
  });

  it("validates overrides like YAML values", async () => {
    const dir = await tempDir("cohort-config-");
    const file = join(dir, "aggregator.yml");
    await writeFile(file, "hyperparams:\n  global:\n    num_parties: 1\nparties:\n  - name: p\n    token: 12345678x\n");
    await expect(loadAggregatorConfig(file, { hyperparams: { global: { rounds: -1 } } })).rejects.toThrow(
      `${file}: hyperparams.global.rounds: got -1, expected an integer >= 1`,
    );
  });

  it("names the file and line of a YAML syntax error", async () => {
    const dir = await tempDir("cohort-config-");
    const file = join(dir, "aggregator.yml");
    await writeFile(file, "hyperparams:\n  global:\n    num_parties: 1\n   rounds: 2\n");
    await expect(loadAggregatorConfig(file)).rejects.toMatchObject({ code: "CONFIG_SYNTAX", file, line: 4 });
  });

  it("reports a missing file", async () => {
    await expect(loadAggregatorConfig("/nonexistent/aggregator.yml")).rejects.toMatchObject({ code: "CONFIG_NOT_FOUND", file: "/nonexistent/aggregator.yml" });
  });
});
