import { describe, expect, it } from "vitest";
import { evaluateOnOwnData } from "./evaluation-phase.js";
import { ModelStore } from "./model-store.js";
import { capturingLogger } from "../../../test/helpers/federation.js";

const manifest = { tensors: [{ name: "w", dtype: "float32" as const, shape: [4] }] };

function storeAt(round: number, value: number): ModelStore {
  const store = new ModelStore();
  store.setManifest(manifest);
  store.topology = "{\"class_name\":\"Sequential\"}";
  store.put(round, new Uint8Array(new Float32Array(4).fill(value).buffer));
  return store;
}

describe("evaluateOnOwnData", () => {
  it("hands the evaluator the latest global model and logs and returns its numbers", async () => {
    const { log, lines } = capturingLogger("aggregator");
    const seen: unknown[] = [];
    const result = await evaluateOnOwnData(async (round, m, bytes, topology) => {
      seen.push(round, m, [...new Float32Array(bytes.buffer, bytes.byteOffset, 4)], topology);
      return { examples: 200, metrics: { accuracy: 0.75 } };
    }, storeAt(3, 0.5), log, 3);
    expect(result).toEqual({ examples: 200, accuracy: 0.75 });
    expect(seen).toEqual([3, manifest, [0.5, 0.5, 0.5, 0.5], "{\"class_name\":\"Sequential\"}"]);
    expect(lines).toContainEqual(expect.objectContaining({ round: 3, evaluator: "aggregator", examples: 200, accuracy: 0.75, msg: "global model evaluated on the aggregator's data" }));
  });

  it("turns a failing evaluator into a warning and no result, so the round goes on", async () => {
    const { log, lines } = capturingLogger("aggregator");
    const result = await evaluateOnOwnData(async () => { throw new Error("data handler npz: examples/datasets/mnist.npz not found"); }, storeAt(1, 0), log, 1);
    expect(result).toBeUndefined();
    expect(lines).toContainEqual(expect.objectContaining({ level: 40, evaluator: "aggregator", reason: "data handler npz: examples/datasets/mnist.npz not found" }));
  });
});
