import { describe, expect, it } from "vitest";
import { MASKED_UPDATE_ENCODING } from "@cohort/secagg";
import { createLogger } from "@cohort/telemetry";
import { SecureAggregationSteps } from "./secure-aggregation.js";

const log = createLogger({ service: "test", level: "silent" });
const hyperparams = { epochs: 1, batchSize: 8, stepsPerEpoch: 0, validationSplit: 0, learningRate: 0 };
const params = { threshold: 2, neighbours: 1, clippingRange: 8, quantizationBits: 22, totalExamples: 20 };

describe("SecureAggregationSteps", () => {
  it("advertises fresh keys per round and masks the trained change: never the weights themselves", async () => {
    const calls: { method: string; request: Record<string, unknown> }[] = [];
    const steps = new SecureAggregationSteps("a", async (method, request) => { calls.push({ method, request: request as Record<string, unknown> }); }, log);
    await steps.begin(3, hyperparams, params);
    const other = new SecureAggregationSteps("b", async (method, request) => { calls.push({ method, request: request as Record<string, unknown> }); }, log);
    await other.begin(3, hyperparams, params);
    const [ka, kb] = calls.map((c) => c.request);
    expect(ka.encryptionKey).toHaveLength(32);
    expect(ka.maskingKey).not.toEqual(kb.maskingKey);
    const roster = [{ party: "a", ...ka }, { party: "b", ...kb }] as never;
    await steps.shareKeys({ kind: "shareKeys", shareKeys: { round: 3, roster } });
    await other.shareKeys({ kind: "shareKeys", shareKeys: { round: 3, roster } });
    const dealt = calls.filter((c) => c.method === "ShareKeys").map((c) => c.request.shares as { from: string; to: string; ciphertext: Uint8Array }[]);
    const { hyperparams: returned, mask } = steps.maskedInput({ kind: "maskedInput", maskedInput: { round: 3, shares: dealt[1] } });
    expect(returned).toEqual(hyperparams);
    const weights = [{ name: "w", dtype: "float32" as const, shape: [4], data: Float32Array.from([1.5, 2.5, 3.5, 4.5]) }];
    const base = [{ name: "w", dtype: "float32" as const, shape: [4], data: Float32Array.from([1, 2, 3, 4]) }];
    const upload = mask(weights, base, 10);
    expect(upload.encoding).toBe(MASKED_UPDATE_ENCODING);
    expect(upload.weights).toHaveLength(1);
    const bytes = upload.weights[0].data as Uint8Array;
    expect(bytes.byteLength).toBe(16);
    expect(Buffer.from(bytes).includes(Buffer.from(weights[0].data.buffer))).toBe(false);
    expect(() => mask([{ name: "step", dtype: "int32", shape: [1], data: Int32Array.from([1]) }], [{ name: "step", dtype: "int32", shape: [1], data: Int32Array.from([0]) }], 10)).toThrow(/float32 tensors only; step is int32/);
  });

  it("refuses a step of another round than its own", async () => {
    const steps = new SecureAggregationSteps("a", async () => undefined, log);
    await steps.begin(1, hyperparams, params);
    await expect(steps.unmask({ kind: "unmask", unmask: { round: 2, survivors: ["a"], dropped: [] } })).rejects.toThrow(/secure round 2 is not the one this party is in \(1\)/);
  });
});
