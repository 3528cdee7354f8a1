import type { Manifest } from "@cohort/tensors";
import { FOLD_SLICE_BYTES } from "./accumulator.js";
import { type SlicePlanEntry, decodeInto, slicePlan, sliceElementsFor } from "./numeric-slices.js";
import type { StagedUpdate } from "./strategy.js";

/**
 * One slice of every staged update: coordinate-major (`values[j * n + u]` is element j of update
 * u: each coordinate's n values side by side, to sort) or update-major (`values[u * elements + j]`:
 * each update's slice contiguous, for distances between updates).
 */
export interface CoordinateSlice { entry: SlicePlanEntry; n: number; values: Float64Array }

/**
 * Reads the same slice of every staged update together and lays the values out coordinate by
 * coordinate (each coordinate's n values side by side, ready to sort). Memory: two float64
 * buffers of about `budgetBytes` in all, plus each spilled file's read buffer, whatever the number
 * of updates and the model's size; the buffers are reused from slice to slice.
 */
export async function* coordinateSlices(
  manifest: Manifest, updates: readonly StagedUpdate[], budgetBytes = FOLD_SLICE_BYTES, layout: "coordinate" | "update" = "coordinate",
): AsyncGenerator<CoordinateSlice> {
  const n = updates.length;
  if (n === 0) throw new RangeError("no staged update to aggregate");
  const sliceElements = sliceElementsFor(n, budgetBytes);
  const row = new Float64Array(sliceElements);
  const values = new Float64Array(sliceElements * n);
  for (const entry of slicePlan(manifest, sliceElements)) {
    for (let u = 0; u < n; u++) {
      // One read at a time: a spilled file's read buffer is reused by its next read.
      const bytes = await updates[u].staged.read(entry.offset, entry.bytes);
      if (layout === "update") {
        decodeInto(entry.dtype, bytes, values, u * entry.elements);
        continue;
      }
      decodeInto(entry.dtype, bytes, row);
      for (let j = 0; j < entry.elements; j++) values[j * n + u] = row[j];
    }
    yield { entry, n, values: values.subarray(0, entry.elements * n) };
  }
}

/** Sorts a[from, from + n) ascending in place (insertion sort: n is a number of parties, small). */
export function sortRange(a: Float64Array, from: number, n: number): void {
  for (let i = from + 1; i < from + n; i++) {
    const x = a[i];
    let k = i - 1;
    while (k >= from && a[k] > x) {
      a[k + 1] = a[k];
      k--;
    }
    a[k + 1] = x;
  }
}
