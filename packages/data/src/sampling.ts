import { type Random, randomInt } from "./prng.js";

/** Fisher-Yates shuffle, in place, driven by `random` so it is reproducible. */
export function shuffleInPlace<T extends { length: number; [i: number]: unknown }>(items: T, random: Random): T {
  for (let i = items.length - 1; i > 0; i--) {
    const j = randomInt(random, i + 1);
    const tmp = items[i];
    items[i] = items[j];
    items[j] = tmp;
  }
  return items;
}

/** Standard normal by Box-Muller (1 - u keeps the log finite). */
export function normal(random: Random): number {
  const u = 1 - random();
  const v = random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/**
 * Gamma(shape, 1) by Marsaglia and Tsang (2000). For shape < 1 it samples Gamma(shape + 1) and
 * scales by U^(1/shape), the standard boost, because the method itself needs shape >= 1.
 */
export function gamma(random: Random, shape: number): number {
  if (!(shape > 0)) throw new RangeError(`gamma shape must be > 0, got ${shape}`);
  if (shape < 1) return gamma(random, shape + 1) * Math.pow(1 - random(), 1 / shape);
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x: number;
    let v: number;
    do {
      x = normal(random);
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const u = 1 - random();
    if (u < 1 - 0.0331 * x ** 4 || Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v;
  }
}

/** A draw from the symmetric Dirichlet(alpha, ..., alpha) over k outcomes: k proportions summing to 1. */
export function dirichlet(random: Random, alpha: number, k: number): number[] {
  const draws = Array.from({ length: k }, () => gamma(random, alpha));
  const total = draws.reduce((a, b) => a + b, 0);
  // With tiny alpha every draw can underflow to 0; fall back to one outcome taking everything.
  if (total === 0) {
    const winner = randomInt(random, k);
    return draws.map((_, i) => (i === winner ? 1 : 0));
  }
  return draws.map((g) => g / total);
}
