import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadAggregatorConfig, parseAggregatorConfig } from "./aggregator-config.js";
import { parsePartyConfig } from "./party-config.js";
import { tempDir } from "../../../test/helpers/temp-dirs.js";

const aggregator = (extra: Record<string, unknown>) => ({
  hyperparams: { global: { num_parties: 1 } }, parties: [{ name: "p0", token: "token-of-p0" }], ...extra,
});
const party = (extra: Record<string, unknown>) => ({
  aggregator: { ip: "127.0.0.1" }, party: { name: "p0" }, token: "token-of-p0",
  data: { name: "mnist" }, model: { name: "TfjsModel", spec: { model_definition: "model.json" } }, ...extra,
});

describe("metrics section (HTTP /metrics, /healthz, /readyz)", () => {
  it("is off when absent, on both services", () => {
    expect(parseAggregatorConfig(aggregator({}), "aggregator.yml", "/x").metrics).toBeUndefined();
    expect(parsePartyConfig(party({}), "party.yml", "/x").metrics).toBeUndefined();
  });

  it("takes a port and defaults the host to loopback", () => {
    expect(parseAggregatorConfig(aggregator({ metrics: { port: 9464 } }), "aggregator.yml", "/x").metrics).toEqual({ host: "127.0.0.1", port: 9464 });
    expect(parsePartyConfig(party({ metrics: { port: 9465, host: "0.0.0.0" } }), "party.yml", "/x").metrics).toEqual({ host: "0.0.0.0", port: 9465 });
  });

  it("refuses a missing or bad port and unknown keys, naming the key", () => {
    expect(() => parseAggregatorConfig(aggregator({ metrics: { host: "0.0.0.0" } }), "aggregator.yml", "/x")).toThrow(/aggregator\.yml: metrics\.port/);
    expect(() => parsePartyConfig(party({ metrics: { port: 70000 } }), "party.yml", "/x")).toThrow(/party\.yml: metrics\.port: .*expected an integer from 0 to 65535/);
    expect(() => parsePartyConfig(party({ metrics: { port: 1, hots: "x" } }), "party.yml", "/x")).toThrow(/metrics\.hots: unknown key \(did you mean "host"\?\)/);
  });

  it("takes the --metrics-port override onto the YAML's host", async () => {
    const dir = await tempDir("cohort-metrics-cfg-");
    const file = join(dir, "aggregator.yml");
    await writeFile(file, "hyperparams: {global: {num_parties: 1}}\nparties: [{name: p0, token: token-of-p0}]\nmetrics: {host: 0.0.0.0, port: 1}\n");
    expect((await loadAggregatorConfig(file, { metrics: { port: 9100 } })).metrics).toEqual({ host: "0.0.0.0", port: 9100 });
  });
});
