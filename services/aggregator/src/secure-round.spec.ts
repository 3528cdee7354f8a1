import * as grpc from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { PartyRound } from "@cohort/secagg";
import { createLogger } from "@cohort/telemetry";
import type { Manifest } from "@cohort/tensors";
import type { Instruction } from "@cohort/wire";
import { SecureRound, type SecureRoundHost } from "./secure-round.js";

const manifest: Manifest = { tensors: [{ name: "w", dtype: "float32", shape: [6] }] };
const names = ["a", "b", "c"];
const examples = new Map([["a", 100], ["b", 100], ["c", 200]]);
const changes = new Map([["a", 1], ["b", 2], ["c", 4]]);

/**
 * A secure round whose host answers each instruction as the named party would, on the next
 * tick; `upload(party, masked)` is how a party's masked update reaches the round.
 */
function secureRound(upload: (round: SecureRound, party: string, masked: Uint32Array) => void) {
  const round = SecureRound.start({}, 4, names, 400, manifest, undefined);
  if ("failed" in round) throw new Error(round.failed);
  const parties = new Map(names.map((n) => [n, new PartyRound(n, 4, round.params)]));
  const host: SecureRoundHost = {
    log: createLogger({ service: "test", level: "silent" }), deadlineMs: 5_000, abort: new AbortController().signal,
    send: (party: string, instruction: Instruction) => {
      const p = parties.get(party)!;
      setImmediate(() => {
        if (instruction.kind === "train") round.advertise(party, { round: 4, ...p.keys() });
        if (instruction.kind === "shareKeys") round.share(party, { round: 4, shares: p.shareKeys(instruction.shareKeys.roster) });
        if (instruction.kind === "maskedInput") {
          p.receiveShares(instruction.maskedInput.shares);
          upload(round, party, p.mask(new Array(6).fill((changes.get(party)! * examples.get(party)!) / 400)));
        }
        if (instruction.kind === "unmask") round.reveal(party, { round: 4, shares: p.reveal(instruction.unmask.survivors, instruction.unmask.dropped).map((s) => ({ owner: s.owner, maskingKey: s.kind === "key", value: s.value })) });
      });
      return true;
    },
  };
  const train: Instruction = { kind: "train", train: { round: 4, hyperparams: { epochs: 1, batchSize: 1, stepsPerEpoch: 0, validationSplit: 0, learningRate: 0 }, secureAggregation: round.trainParams } };
  return { round, host, train };
}

const staged = (masked: Uint32Array) => ({ size: masked.byteLength, read: async (o: number, l: number) => new Uint8Array(masked.buffer, o, l), release: async () => undefined });

describe("SecureRound", () => {
  it("refuses models with other dtypes and configs that cannot protect the round", () => {
    expect(SecureRound.start({}, 1, ["a", "b"], 10, { tensors: [{ name: "step", dtype: "int32", shape: [1] }] }, undefined)).toEqual({ failed: "secure aggregation masks float32 tensors only; tensor step is int32" });
    expect(SecureRound.start({ threshold: 5 }, 1, ["a", "b", "c"], 10, manifest, undefined)).toMatchObject({ failed: expect.stringMatching(/secure_aggregation.threshold: 5 shares needed/) });
  });

  it("drives the key phases over its host, refuses steps out of phase with FAILED_PRECONDITION, and serves previous + the weighted mean change", async () => {
    const { round, host, train } = secureRound((r, party, masked) => void r.fold(party, staged(masked), examples.get(party)!));
    expect(() => round.share("a", { round: 4, shares: [] })).toThrow(expect.objectContaining({ code: grpc.status.FAILED_PRECONDITION }));
    expect(await round.exchangeKeys(host, train)).toEqual({ sharers: names });
    expect(round.startUploads(host)).toEqual([]);
    await new Promise((r) => setTimeout(r, 50));
    expect(await round.unmask(host)).toMatchObject({ failed: undefined, survivors: names, dropped: [] });
    const previous = new Float32Array(6).fill(0.5);
    const model = round.unmaskedModel(manifest, { read: (o, l) => new Uint8Array(previous.buffer, o, l) });
    const values = new Float32Array((await model.read(0, 24)).slice().buffer);
    // 0.5 + (100 * 1 + 100 * 2 + 200 * 4) / 400 = 3.25, within the quantization error.
    for (const v of values) expect(v).toBeCloseTo(3.25, 4);
    expect(round.keyBytes.in).toBeGreaterThan(0);
  });

  it("discards the round when a masked update could not be added whole", async () => {
    const { round, host, train } = secureRound((r, party, masked) => {
      const source = party === "b" ? { ...staged(masked), read: async () => { throw new Error("disk read failed"); } } : staged(masked);
      r.fold(party, source, examples.get(party)!).catch(() => undefined);
    });
    await round.exchangeKeys(host, train);
    round.startUploads(host);
    await new Promise((r) => setTimeout(r, 50));
    expect((await round.unmask(host)).failed).toBe("secure aggregation: b's masked update could not be added whole (disk read failed): the round's sum is discarded");
  });
});
