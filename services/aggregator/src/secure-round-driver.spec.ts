import { describe, expect, it } from "vitest";
import { UpdateStaging, createStrategy } from "@cohort/fusion";
import type { Manifest } from "@cohort/tensors";
import { ModelStore } from "./model-store.js";
import { PartyRegistry } from "./registry.js";
import { RoundAccumulator } from "./round-accumulator.js";
import { SecureRoundDriver } from "./secure-round-driver.js";
import type { AggregatorSettings } from "./settings.js";
import { capturingLogger } from "../../../test/helpers/federation.js";
import { tempDir } from "../../../test/helpers/temp-dirs.js";

async function driver(manifest: Manifest) {
  const { log, lines } = capturingLogger("aggregator");
  const registry = new PartyRegistry();
  for (const name of ["a", "b", "c"]) registry.join(name, 100, "cpu");
  const store = new ModelStore();
  store.setManifest(manifest);
  const settings = { secureAggregation: {}, maxTimeoutMs: 2_000, local: { epochs: 1, batchSize: 8, validationSplit: 0 } } as unknown as AggregatorSettings;
  const accumulator = new RoundAccumulator(store, new UpdateStaging({ dir: await tempDir("cohort-secdriver-"), memoryBudgetBytes: 1 << 20 }));
  const secure = new SecureRoundDriver({ settings, strategy: createStrategy({ name: "fedavg" }), log, metrics: undefined, registry, store, accumulator, abort: new AbortController().signal });
  return { secure, lines };
}

describe("SecureRoundDriver.exchangeKeys", () => {
  it("fails a round whose model has a tensor secure aggregation cannot mask, logging why", async () => {
    const { secure, lines } = await driver({ tensors: [{ name: "steps", dtype: "int32", shape: [1] }] });
    const outcome = await secure.exchangeKeys(4, ["a", "b", "c"]);
    expect(outcome).toEqual({ failed: "secure aggregation masks float32 tensors only; tensor steps is int32" });
    expect(lines.some((l) => l.phase === "secagg" && l.round === 4 && l.level === 50)).toBe(true);
    expect(secure.secureRound(4)).toBeUndefined();
  });

  it("serves the round's key RPCs from its key exchange on, even when the exchange fails (parties gone)", async () => {
    const { secure } = await driver({ tensors: [{ name: "w", dtype: "float32", shape: [6] }] });
    // No party has an instruction stream: none receives the train instruction, the advertise phase fails.
    const outcome = await secure.exchangeKeys(4, ["a", "b", "c"]);
    expect("failed" in outcome).toBe(true);
    expect(secure.secureRound(4)?.round).toBe(4);
    expect(secure.secureRound(5)).toBeUndefined();
  });
});
