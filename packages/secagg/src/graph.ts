/**
 * The communication graph of SecAgg+ (Bell et al. 2020): party i of n (in the round's sorted
 * order) masks with and shares its secrets among its `k` neighbours, i±1 ... i±k/2 (mod n), a
 * k-regular circulant graph. k = n - 1 is classic SecAgg (Bonawitz et al. 2017): everyone.
 * Deterministic from the round's participant list, so every party computes the same graph.
 */
export function neighbours(index: number, n: number, k: number): number[] {
  if (k >= n - 1) return Array.from({ length: n }, (_, j) => j).filter((j) => j !== index);
  const half = Math.floor(k / 2);
  const set = new Set<number>();
  for (let d = 1; d <= half; d++) {
    set.add((index + d) % n);
    set.add((index - d + n) % n);
  }
  // An odd k on an even n: the opposite party too (each pair agrees, so the graph stays symmetric).
  if (k % 2 === 1 && n % 2 === 0) set.add((index + n / 2) % n);
  set.delete(index);
  return [...set].sort((a, b) => a - b);
}
