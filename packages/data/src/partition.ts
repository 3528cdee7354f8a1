import { mulberry32 } from "./prng.js";
import { dirichlet, shuffleInPlace } from "./sampling.js";

/**
 * Splits a labelled dataset among parties so that every party, computing alone from the same
 * seed, arrives at the same answer: shards are disjoint and together cover the data.
 *
 * 1. Each class's examples are shuffled; its first `testFraction` (rounded) is held out. The
 *    held-out set is identical for every split kind and every party.
 * 2. The held-out set is dealt out stratified and evenly, so each party's test slice is
 *    balanced like the whole and the union of party test slices is the whole held-out set.
 * 3. The rest of each class is the training pool: dealt evenly for "iid"; for "dirichlet",
 *    cut by proportions drawn from Dir(alpha) across parties (small alpha: strong skew).
 * 4. Each party's indices are shuffled, so classes are interleaved.
 */

export type SplitKind = "iid" | "dirichlet";

export interface PartitionOptions {
  numParties: number;
  split: SplitKind;
  /** Dirichlet concentration; only for split "dirichlet". */
  alpha: number;
  seed: number;
  testFraction: number;
}

export interface Partition {
  /** train[p]: example indices of party p's training set. */
  train: Int32Array[];
  /** test[p]: party p's slice of the held-out set. */
  test: Int32Array[];
}

/**
 * Sizes of `n` items dealt evenly over `parts`, the remainder going to parties starting at
 * `rotate`. Callers carry `rotate` across classes so totals differ by at most one.
 */
function evenSizes(n: number, parts: number, rotate: number): number[] {
  const base = Math.floor(n / parts);
  const extra = n % parts;
  return Array.from({ length: parts }, (_, p) => base + ((p - rotate + parts) % parts < extra ? 1 : 0));
}

/** Sizes from proportions: cut points at rounded cumulative sums, so they add up to exactly n. */
function proportionalSizes(n: number, proportions: number[]): number[] {
  const sizes: number[] = [];
  let cumulative = 0;
  let previousCut = 0;
  proportions.forEach((share, p) => {
    cumulative += share;
    const cut = p === proportions.length - 1 ? n : Math.min(n, Math.round(cumulative * n));
    sizes.push(cut - previousCut);
    previousCut = cut;
  });
  return sizes;
}

export function partitionByClass(labels: Int32Array, numClasses: number, options: PartitionOptions): Partition {
  const { numParties, split, alpha, seed, testFraction } = options;
  // Separate streams, so the Dirichlet draws do not shift which examples are held out: the
  // held-out set depends on the seed only, whatever the split kind.
  const random = mulberry32(seed);
  const splitRandom = mulberry32(seed ^ 0x9e3779b9);
  const orderRandom = mulberry32(seed ^ 0x85ebca6b);
  const byClass: number[][] = Array.from({ length: numClasses }, () => []);
  labels.forEach((label, i) => byClass[label].push(i));

  const train: number[][] = Array.from({ length: numParties }, () => []);
  const test: number[][] = Array.from({ length: numParties }, () => []);
  let testTurn = 0; // who gets the next leftover item, carried across classes
  let trainTurn = 0;
  byClass.forEach((members) => {
    shuffleInPlace(members, random);
    const held = Math.round(testFraction * members.length);
    const deal = (from: number, sizes: number[], into: number[][]) => {
      sizes.forEach((size, p) => {
        into[p].push(...members.slice(from, from + size));
        from += size;
      });
    };
    deal(0, evenSizes(held, numParties, testTurn), test);
    testTurn = (testTurn + held) % numParties;
    const pool = members.length - held;
    const sizes = split === "iid" ? evenSizes(pool, numParties, trainTurn) : proportionalSizes(pool, dirichlet(splitRandom, alpha, numParties));
    trainTurn = (trainTurn + pool) % numParties;
    deal(held, sizes, train);
  });
  return {
    train: train.map((ids) => shuffleInPlace(Int32Array.from(ids), orderRandom)),
    test: test.map((ids) => shuffleInPlace(Int32Array.from(ids), orderRandom)),
  };
}
