import { describe, expect, it } from "vitest";
import { type Partition, type PartitionOptions, partitionByClass } from "./partition.js";

// 10 classes of uneven sizes (97..106 examples), interleaved.
const labels = Int32Array.from({ length: 1015 }, (_, i) => (i * 7) % 10);
const base: PartitionOptions = { numParties: 4, split: "iid", alpha: 0.5, seed: 1, testFraction: 0.2 };

function all(ids: Int32Array[]): number[] {
  return ids.flatMap((a) => [...a]);
}

function classShare(ids: Int32Array): number[] {
  const counts = new Array(10).fill(0);
  for (const i of ids) counts[labels[i]]++;
  return counts.map((c) => c / Math.max(1, ids.length));
}

/** Mean over parties of the total-variation distance between a party's class mix and the global one. */
function skew(p: Partition): number {
  const global = classShare(Int32Array.from(labels.keys()));
  const tv = p.train.map((ids) => classShare(ids).reduce((s, share, c) => s + Math.abs(share - global[c]), 0) / 2);
  return tv.reduce((a, b) => a + b, 0) / tv.length;
}

describe.each(["iid", "dirichlet"] as const)("partitionByClass (%s)", (split) => {
  const p = partitionByClass(labels, 10, { ...base, split });
  it("gives disjoint shards that together cover every example exactly once", () => {
    const everything = [...all(p.train), ...all(p.test)];
    expect(everything.length).toBe(labels.length);
    expect(new Set(everything).size).toBe(labels.length);
  });
  it("is the same for every party computing it with the same seed, different with another seed", () => {
    const again = partitionByClass(labels, 10, { ...base, split });
    expect(again.train.map((a) => [...a])).toEqual(p.train.map((a) => [...a]));
    const other = partitionByClass(labels, 10, { ...base, split, seed: 2 });
    expect(other.train.map((a) => [...a])).not.toEqual(p.train.map((a) => [...a]));
  });
  it("holds out test_fraction of every class, balanced across parties", () => {
    const held = all(p.test);
    for (let c = 0; c < 10; c++) {
      const inClass = labels.filter((l) => l === c).length;
      expect(held.filter((i) => labels[i] === c).length).toBe(Math.round(0.2 * inClass));
    }
    const sizes = p.test.map((t) => t.length);
    expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
  });
});

describe("split kinds", () => {
  it("uses the same held-out set for iid and dirichlet", () => {
    const heldOut = (split: "iid" | "dirichlet") => new Set(all(partitionByClass(labels, 10, { ...base, split }).test));
    expect([...heldOut("iid")].sort()).toEqual([...heldOut("dirichlet")].sort());
  });
  it("deals iid training shards of equal size (within one) and near-global class mix", () => {
    const p = partitionByClass(labels, 10, base);
    const sizes = p.train.map((t) => t.length);
    expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
    expect(skew(p)).toBeLessThan(0.05);
  });
  it("skews class mixes under dirichlet, more so for smaller alpha", () => {
    const skewAt = (alpha: number) => skew(partitionByClass(labels, 10, { ...base, split: "dirichlet", alpha }));
    expect(skewAt(0.1)).toBeGreaterThan(0.3);
    expect(skewAt(0.1)).toBeGreaterThan(skewAt(100) + 0.2);
  });
  it("shuffles each shard so classes are interleaved", () => {
    const shard = partitionByClass(labels, 10, base).train[0];
    const runs = [...shard].filter((id, k) => k > 0 && labels[id] !== labels[shard[k - 1]]).length;
    expect(runs).toBeGreaterThan(shard.length / 2);
  });
});
