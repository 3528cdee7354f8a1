import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { loadAggregatorConfig } from "./aggregator-config.js";
import { loadPartyConfig } from "./party-config.js";

// The shipped examples are documentation users copy; they must keep parsing as the schema evolves.
const mnist = fileURLToPath(new URL("../../../examples/mnist/", import.meta.url));

describe("examples/mnist", () => {
  it("aggregator.yml parses", async () => {
    const config = await loadAggregatorConfig(`${mnist}aggregator.yml`);
    expect(config.numParties).toBe(3);
    expect(config.parties.map((p) => p.name)).toEqual(["party0", "party1", "party2"]);
    expect(config.fusion.algorithm).toBe("fedavg");
    expect(config.model?.name).toBe("TfjsModuleModel");
    expect(config.ignored).toEqual(["connection.name"]);
  });

  it.each([0, 1, 2])("party%i.yml parses and its token is on the aggregator's allow-list", async (index) => {
    const aggregator = await loadAggregatorConfig(`${mnist}aggregator.yml`);
    const party = await loadPartyConfig(`${mnist}party${index}.yml`);
    expect(party.name).toBe(`party${index}`);
    expect(party.data).toMatchObject({ name: "mnist", info: { party_index: index, num_parties: 3 } });
    expect(party.model).toEqual({ name: "TfjsModuleModel", spec: { model_definition: "../mnist-tfjs/model.mjs" }, specBaseDir: mnist.replace(/\/$/, "") });
    expect(aggregator.parties).toContainEqual({ name: party.name, token: party.token });
    expect(party.aggregator.port).toBe(aggregator.connection.port);
  });
});
