import { crc32 } from "node:zlib";
import * as grpc from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import { type Manifest, encodedByteLength, packWeights } from "@cohort/tensors";
import type { UploadMessage } from "@cohort/wire";
import { ArithmeticLearner } from "./helpers/arithmetic-learner.js";
import { readRoundLines, runParties, startAggregator, startParties } from "./helpers/federation.js";
import { mnistLearners } from "./helpers/mnist-learners.js";
import { RawClient } from "./helpers/raw-client.js";

const manifest: Manifest = { tensors: [{ name: "w", dtype: "float32", shape: [300, 100] }, { name: "b", dtype: "float32", shape: [100] }] };
const cleanup: (() => void)[] = [];
afterEach(() => { cleanup.splice(0).forEach((f) => f()); });

describe("compressed updates (hyperparams.global.compression)", () => {
  it.each(["float16", "int8"] as const)("%s: parties send differences from the base model; the aggregate is the float32 one and the wire carries less", async (encoding) => {
    const { aggregator, port, outputDir } = await startAggregator({ rounds: 2, updateEncoding: encoding });
    cleanup.push(() => aggregator.forceClose());
    const examples = [100, 300, 600];
    const offsets = [1, 2, 4];
    const learners = examples.map((n, i) => new ArithmeticLearner(manifest, n, offsets[i], i === 0 ? 0.5 : 0));
    const run = aggregator.run();
    const parties = startParties(port, learners, cleanup);
    await run;
    await Promise.all(parties);
    const initial = aggregator.initialWeightsFrom === "party0" ? 0.5 : 0;
    const lines = await readRoundLines(outputDir);
    // Each round adds the example-weighted mean offset, 3.1, to the base each party started from.
    expect(lines[0].eval.probe).toBeCloseTo(initial + 3.1, 5);
    expect(lines[1].eval.probe).toBeCloseTo(initial + 6.2, 5);
    // Bytes in per round: three updates in the encoding (float16 2 bytes, int8 1 byte + a 4-byte scale per tensor).
    expect(lines[1].bytes_in).toBe(3 * encodedByteLength(manifest, encoding));
    expect(lines[1].bytes_in).toBeLessThan(3 * 30100 * 4 / (encoding === "float16" ? 1.99 : 3.99));
  });

  it("trains the MNIST CNN with int8 updates: the held-out accuracy rises", async () => {
    const { aggregator, port, outputDir } = await startAggregator({ rounds: 2, updateEncoding: "int8", local: { epochs: 1, batchSize: 32, validationSplit: 0, lr: 0.003 } });
    cleanup.push(() => aggregator.forceClose());
    const learners = await mnistLearners(3, 700);
    const { lines } = await runParties(aggregator, port, outputDir, learners, cleanup);
    expect(lines[0].eval.accuracy).toBeGreaterThan(0.5);
    expect(lines[1].eval.accuracy).toBeGreaterThan(lines[0].eval.accuracy);
    expect(lines[1].bytes_in).toBe(3 * encodedByteLength(learners[0].manifest, "int8"));
  }, 180_000);

  it("refuses an update in another encoding than the federation's, naming both", async () => {
    const { aggregator, port } = await startAggregator({ rounds: 1, numParties: 1, updateEncoding: "int8" });
    cleanup.push(() => aggregator.forceClose());
    void aggregator.run().catch(() => undefined);
    const client = new RawClient(port, "party0", "token-of-party-0");
    cleanup.push(() => client.close());
    const session = await client.join(manifest, 100);
    expect(session.updateEncoding).toBe("int8");
    const zeros = packWeights(manifest.tensors.map((t) => ({ ...t, data: new Float32Array(t.shape.reduce((a, b) => a * b, 1)) })));
    const upload = async (round: number, encoding: string) => {
      const { call, result } = client.startUpload();
      call.write({ kind: "header", header: { round, numExamples: 100, metrics: {}, trainSeconds: 0, encoding } } as UploadMessage);
      for (let offset = 0; offset < zeros.byteLength; offset += 65536) call.write({ kind: "chunk", chunk: { offset, data: zeros.subarray(offset, offset + 65536) } });
      call.write({ kind: "trailer", trailer: { crc32: crc32(zeros) } });
      call.end();
      return result.catch((error: grpc.ServiceError) => error);
    };
    // Initial weights are always float32.
    expect(await upload(0, "")).toMatchObject({ accepted: true });
    await client.waitFor("train");
    const refused = await upload(1, "float32") as grpc.ServiceError;
    expect(refused.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(refused.details).toBe('update encoding "float32": this federation takes updates as int8');
  });
});
