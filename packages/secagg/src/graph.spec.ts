import { describe, expect, it } from "vitest";
import { neighbours } from "./graph.js";

describe("SecAgg+ communication graph", () => {
  it("is k-regular and symmetric", () => {
    for (const [n, k] of [[10, 4], [50, 6], [8, 3], [7, 6], [5, 2]]) {
      const lists = Array.from({ length: n }, (_, i) => neighbours(i, n, k));
      for (let i = 0; i < n; i++) {
        expect(lists[i]).toHaveLength(k);
        expect(lists[i]).not.toContain(i);
        for (const j of lists[i]) expect(lists[j]).toContain(i);
      }
    }
  });

  it("is everyone else for k >= n - 1 (classic SecAgg)", () => {
    expect(neighbours(1, 4, 3)).toEqual([0, 2, 3]);
    expect(neighbours(0, 3, 9)).toEqual([1, 2]);
  });
});
