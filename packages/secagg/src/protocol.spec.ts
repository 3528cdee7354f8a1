import { describe, expect, it } from "vitest";
import { AggregatorRound, SecAggRefusal } from "./aggregator-round.js";
import { MaskedSum } from "./masked-sum.js";
import { type RoundParams, roundParams } from "./params.js";
import { type Dealer, PartyRound, ProtocolError } from "./party-round.js";
import { split } from "./shamir.js";
import { dequantizeSumInto, quantizationStep } from "./quantize.js";

const ELEMENTS = 37;

/** Party i's (pre-scaled) update: distinct values in the clipping range. */
const valuesOf = (i: number) => Array.from({ length: ELEMENTS }, (_, j) => Math.sin(i * 100 + j) * 0.5);
/** A dishonest dealer: the share at position `x` is off the polynomial (by one). */
const skewedDealer = (x: number): Dealer => (secret, xs, t) => split(secret, xs, t).map((s) => (s.x === x ? { ...s, y: s.y + 1n } : s));
const bytesOf = (v: Uint32Array) => ({ size: v.byteLength, read: async (o: number, l: number) => new Uint8Array(v.buffer, v.byteOffset + o, l) });

/** Runs one round in memory: `dropAfterSharing` parties deal shares and never upload. */
async function runRound(n: number, params: RoundParams, options: { dropAfterSharing?: number[]; silentAtUnmask?: number[]; dealers?: Record<string, Dealer> } = {}) {
  const names = Array.from({ length: n }, (_, i) => `party${String(i).padStart(2, "0")}`);
  const parties = names.map((name) => new PartyRound(name, 7, params, options.dealers?.[name]));
  const server = new AggregatorRound(7, names, params);
  for (const p of parties) server.advertise(p.keys());
  const roster = server.closeAdvertisement();
  for (const p of parties) {
    server.acceptShares(p.self, p.shareKeys(roster));
  }
  server.closeSharing();
  for (const p of parties) p.receiveShares(server.sharesFor(p.self));
  const sum = new MaskedSum(ELEMENTS);
  const dropped = new Set(options.dropAfterSharing ?? []);
  for (const [i, p] of parties.entries()) {
    if (dropped.has(i)) continue;
    await sum.add(bytesOf(p.mask(valuesOf(i))), 20);
    server.uploadedBy(p.self);
  }
  const { survivors, dropped: gone } = server.closeUpload();
  const silent = new Set((options.silentAtUnmask ?? []).map((i) => names[i]));
  for (const p of parties) if (survivors.includes(p.self) && !silent.has(p.self)) server.acceptReveal(p.self, p.reveal(survivors, gone));
  const recovery = server.recover();
  const unmasked = sum.sum.slice();
  // Slice by slice, as the aggregator does.
  for (let at = 0; at < ELEMENTS; at += 10) server.unmaskSlice(unmasked.subarray(at, Math.min(at + 10, ELEMENTS)), at);
  const decoded = new Float64Array(ELEMENTS);
  dequantizeSumInto(unmasked, survivors.length, params, decoded);
  const expected = Array.from({ length: ELEMENTS }, (_, j) => parties.reduce((s, _p, i) => s + (dropped.has(i) ? 0 : valuesOf(i)[j]), 0));
  return { recovery, decoded, expected, survivors, sum, parties, server };
}

describe("a secure round in memory", () => {
  it("unmasks the survivors' sum within the quantization error; the masked sum alone is far from it", async () => {
    const params = roundParams({ quantizationBits: 20, clippingRange: 1 }, 5, 1);
    const { recovery, decoded, expected, sum } = await runRound(5, params);
    expect(recovery).toEqual({ failure: undefined, warnings: [] });
    const bound = (5 * quantizationStep(params)) / 2;
    for (let j = 0; j < ELEMENTS; j++) expect(Math.abs(decoded[j] - expected[j])).toBeLessThanOrEqual(bound + 1e-12);
    const masked = new Float64Array(ELEMENTS);
    dequantizeSumInto(sum.sum, 5, params, masked);
    expect(masked.filter((v, j) => Math.abs(v - expected[j]) > 0.1).length).toBeGreaterThan(ELEMENTS / 2);
  });

  it("recovers up to n - threshold dropouts after sharing (classic and SecAgg+ neighbourhoods)", async () => {
    const classic = roundParams({ threshold: 4 }, 6, 1);
    const a = await runRound(6, classic, { dropAfterSharing: [1, 4] });
    expect(a.recovery.failure).toBeUndefined();
    expect(a.survivors).toHaveLength(4);
    for (let j = 0; j < ELEMENTS; j++) expect(Math.abs(a.decoded[j] - a.expected[j])).toBeLessThan(1e-4);
    const plus = roundParams({ neighbours: 4, threshold: 3 }, 10, 1);
    const b = await runRound(10, plus, { dropAfterSharing: [3, 8] });
    expect(b.recovery.failure).toBeUndefined();
    for (let j = 0; j < ELEMENTS; j++) expect(Math.abs(b.decoded[j] - b.expected[j])).toBeLessThan(1e-4);
  });

  it("unmasks a survivor that uploads and then never reveals, from the others' shares of its seed", async () => {
    const params = roundParams({ threshold: 3 }, 5, 1);
    const { recovery, decoded, expected, survivors } = await runRound(5, params, { dropAfterSharing: [4], silentAtUnmask: [0] });
    expect(survivors).toContain("party00");
    expect(recovery.failure).toBeUndefined();
    for (let j = 0; j < ELEMENTS; j++) expect(Math.abs(decoded[j] - expected[j])).toBeLessThan(1e-4);
    // With a second silent survivor only 2 shares of the dropped party's key come back: named, not guessed.
    const short = await runRound(5, params, { dropAfterSharing: [4], silentAtUnmask: [0, 1] });
    expect(short.recovery.failure).toMatch(/2 shares of party04's masking key were revealed, 3 are needed/);
  });

  it("fails cleanly, saying how many shares were missing, when more than n - threshold drop", async () => {
    const params = roundParams({ threshold: 4 }, 6, 1);
    const { recovery } = await runRound(6, params, { dropAfterSharing: [0, 2, 5] }).catch((e) => ({ recovery: { failure: String(e) } }));
    // The parties themselves refuse to reveal below threshold survivors.
    expect(recovery.failure).toMatch(/only 3 survivors; unmasking needs 4/);
  });

  it("names a party whose shares do not lie on one polynomial, outvoting one wrong share", async () => {
    const params = roundParams({ threshold: 3 }, 5, 1);
    // party01 deals the share at position 4 (party03's) off its polynomial.
    const { recovery, decoded, expected } = await runRound(5, params, { dealers: { party01: skewedDealer(4) } });
    expect(recovery.failure).toBeUndefined();
    expect(recovery.warnings.join(" ")).toMatch(/party01's self-mask seed held by party03 disagrees/);
    for (let j = 0; j < ELEMENTS; j++) expect(Math.abs(decoded[j] - expected[j])).toBeLessThan(1e-4);
  });

  it("fails naming the dealer when its wrong shares cannot be outvoted", async () => {
    const params = roundParams({ threshold: 3 }, 4, 1);
    const { recovery } = await runRound(4, params, { dealers: { party02: skewedDealer(1) } });
    expect(recovery.failure).toMatch(/party02's shares of its self-mask seed are inconsistent .*party02 dealt inconsistent shares/);
  });
});

describe("protocol refusals", () => {
  const params = roundParams({ threshold: 2 }, 3, 1);
  const names = ["a", "b", "c"];

  it("refuses strangers, repeats, wrong sizes and misaddressed shares", () => {
    const server = new AggregatorRound(1, names, params);
    const parties = names.map((n) => new PartyRound(n, 1, params));
    expect(() => server.advertise({ ...parties[0].keys(), party: "mallory" })).toThrow(SecAggRefusal);
    server.advertise(parties[0].keys());
    expect(() => server.advertise(parties[0].keys())).toThrow(/already advertised/);
    expect(() => server.advertise({ ...parties[1].keys(), maskingKey: new Uint8Array(31) })).toThrow(/32 bytes/);
    server.advertise(parties[1].keys());
    server.advertise(parties[2].keys());
    const roster = server.closeAdvertisement();
    const sealed = parties[0].shareKeys(roster);
    expect(() => server.acceptShares("a", sealed.slice(0, 1))).toThrow(/1 shares dealt, expected one for each of 2/);
    expect(() => server.acceptShares("a", [sealed[0], sealed[0]])).toThrow(/two shares/);
    expect(() => server.acceptShares("a", [{ ...sealed[0], ciphertext: new Uint8Array(10) }, sealed[1]])).toThrow(/expected 160/);
    expect(() => server.acceptShares("a", [{ ...sealed[0], to: "zed" }, sealed[1]])).toThrow(/not a neighbour/);
    server.acceptShares("a", sealed);
    expect(() => server.acceptShares("a", sealed)).toThrow(/already dealt/);
  });

  it("a party refuses parameters its privacy cannot rest on", () => {
    expect(() => new PartyRound("a", 1, { ...params, threshold: 1 })).toThrow(/threshold 1 is not a majority of the 3 shares/);
    expect(() => new PartyRound("a", 1, { ...params, bits: 40 })).toThrow(/quantization_bits 40/);
    expect(() => new PartyRound("a", 1, { ...params, totalExamples: 0 })).toThrow(/total_examples 0/);
  });

  it("a party refuses a roster without its keys, misrouted shares and revealing both secrets", () => {
    const parties = names.map((n) => new PartyRound(n, 1, params));
    const roster = parties.map((p) => p.keys());
    expect(() => parties[0].shareKeys(roster.map((k) => (k.party === "a" ? parties[1].keys() : k)).map((k, i) => ({ ...k, party: names[i] })))).toThrow(ProtocolError);
    const dealt = parties.map((p) => p.shareKeys(roster));
    expect(() => parties[1].receiveShares(dealt[0].filter((s) => s.to === "c"))).toThrow(/routed to b/);
    expect(() => parties[1].receiveShares([{ ...dealt[0].find((s) => s.to === "b")!, from: "c" }])).toThrow(/do not open/);
    parties[1].receiveShares(dealt.flat().filter((s) => s.to === "b"));
    expect(() => parties[1].reveal(["a", "b"], ["a", "c"])).toThrow(/both as a survivor and as dropped/);
    expect(parties[1].reveal(["a", "b"], ["c"]).map((s) => `${s.owner}:${s.kind}`).sort()).toEqual(["a:seed", "b:seed", "c:key"]);
    expect(() => parties[1].reveal(["a", "b", "c"], [])).toThrow(/already revealed/);
  });
});
