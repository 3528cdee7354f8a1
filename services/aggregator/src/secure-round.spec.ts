import * as grpc from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { PartyRound } from "@cohort/secagg";
import { createLogger } from "@cohort/telemetry";
import type { Manifest } from "@cohort/tensors";
import type { Instruction } from "@cohort/wire";
import { SecureRound, type SecureRoundHost } from "./secure-round.js";

const manifest: Manifest = { tensors: [{ name: "w", dtype: "float32", shape: [6] }] };

describe("SecureRound", () => {
  it("refuses models with other dtypes and configs that cannot protect the round", () => {
    expect(SecureRound.start({}, 1, ["a", "b"], 10, { tensors: [{ name: "step", dtype: "int32", shape: [1] }] }, undefined)).toEqual({ failed: "secure aggregation masks float32 tensors only; tensor step is int32" });
    expect(SecureRound.start({ threshold: 5 }, 1, ["a", "b", "c"], 10, manifest, undefined)).toMatchObject({ failed: expect.stringMatching(/secure_aggregation.threshold: 5 shares needed/) });
  });

  it("drives the key phases over its host, refuses steps out of phase with FAILED_PRECONDITION, and serves previous + the weighted mean change", async () => {
    const names = ["a", "b", "c"];
    const round = SecureRound.start({}, 4, names, 400, manifest, undefined);
    if ("failed" in round) throw new Error(round.failed);
    const parties = new Map(names.map((n) => [n, new PartyRound(n, 4, round.params)]));
    const examples = new Map([["a", 100], ["b", 100], ["c", 200]]);
    const changes = new Map([["a", 1], ["b", 2], ["c", 4]]);
    expect(() => round.share("a", { round: 4, shares: [] })).toThrow(expect.objectContaining({ code: grpc.status.FAILED_PRECONDITION }));
    // The host answers each instruction as a party would, on the next tick.
    const host: SecureRoundHost = {
      log: createLogger({ service: "test", level: "silent" }), deadlineMs: 5_000, abort: new AbortController().signal,
      send: (party: string, instruction: Instruction) => {
        const p = parties.get(party)!;
        setImmediate(() => {
          if (instruction.kind === "shareKeys") round.share(party, { round: 4, shares: p.shareKeys(instruction.shareKeys.roster).map((s) => ({ ...s })) });
          if (instruction.kind === "maskedInput") {
            p.receiveShares(instruction.maskedInput.shares);
            const masked = p.mask(new Array(6).fill(changes.get(party)! * examples.get(party)! / 400));
            void round.fold(party, { size: 24, read: async (o, l) => new Uint8Array(masked.buffer, o, l), release: async () => undefined }, examples.get(party)!);
          }
          if (instruction.kind === "unmask") round.reveal(party, { round: 4, shares: p.reveal(instruction.unmask.survivors, instruction.unmask.dropped).map((s) => ({ owner: s.owner, maskingKey: s.kind === "key", value: s.value })) });
        });
        return true;
      },
    };
    for (const [name, p] of parties) setImmediate(() => round.advertise(name, { round: 4, ...p.keys() }));
    expect(await round.exchangeKeys(host)).toEqual({ sharers: names });
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
});
