/** Number of elements of a tensor of this shape (1 for a scalar). Refuses shapes that are not lists of non-negative safe integers. */
export function elementCount(shape: readonly number[]): number {
  let count = 1;
  for (const dim of shape) {
    if (!Number.isSafeInteger(dim) || dim < 0) throw new RangeError(`invalid dimension ${dim} in shape [${shape.join(", ")}]`);
    count *= dim;
    if (!Number.isSafeInteger(count)) throw new RangeError(`shape [${shape.join(", ")}] has too many elements`);
  }
  return count;
}

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}
