import * as grpc from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import { PartyRound } from "@cohort/secagg";
import { type Manifest, packWeights } from "@cohort/tensors";
import type { Instruction, UploadMessage } from "@cohort/wire";
import { ArithmeticLearner } from "./helpers/arithmetic-learner.js";
import { readRoundLines, startAggregator, startParties } from "./helpers/federation.js";
import { RawClient } from "./helpers/raw-client.js";

const manifest: Manifest = { tensors: [{ name: "w", dtype: "float32", shape: [10, 10] }] };
const cleanup: (() => unknown)[] = [];
afterEach(() => { cleanup.splice(0).forEach((f) => f()); });

type Train = Extract<Instruction, { kind: "train" }>;

/** A unary call's outcome: OK or the status code and message. */
function call(client: RawClient, method: string, request: object): Promise<{ code: grpc.status; details: string }> {
  return new Promise((resolve) => {
    client.client[method](request, client.metadata(), (error: grpc.ServiceError | null) => resolve(error ? { code: error.code, details: error.details } : { code: grpc.status.OK, details: "" }));
  });
}

describe("a party that misbehaves in a secure round", () => {
  it("gets a gRPC status for each bad step, and the others' round completes with their mean, its masks removed", async () => {
    const zeros = packWeights([{ name: "w", dtype: "float32", shape: [10, 10], data: new Float32Array(100) }]);
    const { aggregator, port, outputDir } = await startAggregator(
      { rounds: 1, numParties: 3, maxTimeoutMs: 6_000, percQuorum: 0.5, secureAggregation: {} },
      { initialModel: { manifest, bytes: zeros } },
    );
    cleanup.push(() => aggregator.forceClose());
    const run = aggregator.run();
    const hostile = new RawClient(port, "party2", "token-of-party-2");
    cleanup.push(() => hostile.close());
    await hostile.join(manifest, 100);
    const train = hostile.waitFor("train") as Promise<Train>;
    const honest = startParties(port, [new ArithmeticLearner(manifest, 100, 1), new ArithmeticLearner(manifest, 300, 3)], cleanup);
    const { train: instruction } = await train;
    expect(instruction.secureAggregation).toMatchObject({ threshold: 2, neighbours: 2, totalExamples: 500 });

    const round = instruction.round;
    const key = new Uint8Array(32).fill(7);
    expect(await call(hostile, "AdvertiseKeys", { round, encryptionKey: new Uint8Array(1 << 20), maskingKey: key, seedCommitment: key })).toMatchObject({ code: grpc.status.INVALID_ARGUMENT, details: expect.stringMatching(/public keys must be 32 bytes/) });
    expect(await call(hostile, "AdvertiseKeys", { round: 99, encryptionKey: key, maskingKey: key, seedCommitment: key })).toMatchObject({ code: grpc.status.FAILED_PRECONDITION, details: expect.stringMatching(/round 99 is not a secure round in progress/) });
    expect(await call(hostile, "Unmask", { round, shares: [] })).toMatchObject({ code: grpc.status.FAILED_PRECONDITION, details: expect.stringMatching(/advertise phase: it does not reveal shares now/) });
    // No update before the key exchange is over.
    const early = hostile.startUpload();
    early.call.write({ kind: "header", header: { round, numExamples: 100, metrics: {}, trainSeconds: 0 } } as UploadMessage);
    early.call.end();
    await expect(early.result).rejects.toMatchObject({ code: grpc.status.FAILED_PRECONDITION });

    // It advertises real keys and deals real shares after two malformed tries...
    const protocol = new PartyRound("party2", round, { threshold: 2, neighbours: 2, clippingRange: 8, bits: 22, totalExamples: 500 });
    const keys = protocol.keys();
    const shareKeys = hostile.waitFor("shareKeys") as Promise<Extract<Instruction, { kind: "shareKeys" }>>;
    expect(await call(hostile, "AdvertiseKeys", { round, encryptionKey: keys.encryptionKey, maskingKey: keys.maskingKey, seedCommitment: keys.seedCommitment })).toMatchObject({ code: grpc.status.OK });
    const { shareKeys: { roster } } = await shareKeys;
    const many = Array.from({ length: 10_000 }, () => ({ to: "party0", ciphertext: new Uint8Array(160) }));
    expect(await call(hostile, "ShareKeys", { round, shares: many })).toMatchObject({ code: grpc.status.INVALID_ARGUMENT, details: expect.stringMatching(/10000 shares for a round of 3 parties/) });
    expect(await call(hostile, "ShareKeys", { round, shares: [{ to: "party0", ciphertext: new Uint8Array(160) }] })).toMatchObject({ code: grpc.status.INVALID_ARGUMENT, details: expect.stringMatching(/1 shares dealt, expected one for each of 2 neighbours/) });
    const maskedInput = hostile.waitFor("maskedInput");
    expect(await call(hostile, "ShareKeys", { round, shares: protocol.shareKeys(roster) })).toMatchObject({ code: grpc.status.OK });
    await maskedInput;
    // ...then sends its update in the clear, which would be seen as is: refused before a byte is staged.
    const plain = hostile.startUpload();
    plain.call.write({ kind: "header", header: { round, numExamples: 100, metrics: {}, trainSeconds: 0 } } as UploadMessage);
    plain.call.end();
    await expect(plain.result).rejects.toMatchObject({ code: grpc.status.INVALID_ARGUMENT, details: expect.stringMatching(/secure round: its updates must be masked/) });

    // It never uploads: at the deadline it is a dropout whose masks the others' shares remove.
    const summary = await run;
    await Promise.all(honest);
    expect(summary.stopped_because).toBe("all rounds completed");
    const [line] = await readRoundLines(outputDir);
    expect(line.fusion).toMatchObject({ secure_aggregation: { survivors: 2, dropped: ["party2"] } });
    // The honest parties' FedAvg: (100 * 1 + 300 * 3) / 400.
    const model = new Float32Array(aggregator.store.bytes(1)!.slice().buffer);
    expect(model[0]).toBeCloseTo(2.5, 4);
  }, 30_000);
});
