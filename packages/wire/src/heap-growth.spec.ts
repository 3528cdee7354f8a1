import { describe, expect, it } from "vitest";
import { HEAP_GROWING_ENV, PARTY_HEAP_GROWING_PERCENT, tuneHeapGrowth } from "./heap-growth.js";

describe("tuneHeapGrowth", () => {
  it("takes COHORT_HEAP_GROWING_PERCENT over the service's default; leaves V8's own factor when neither is set", () => {
    expect(tuneHeapGrowth(PARTY_HEAP_GROWING_PERCENT, {})).toBe(200);
    expect(tuneHeapGrowth(PARTY_HEAP_GROWING_PERCENT, { [HEAP_GROWING_ENV]: "0" })).toBe(0);
    expect(tuneHeapGrowth(undefined, { [HEAP_GROWING_ENV]: " 300 " })).toBe(300);
    expect(tuneHeapGrowth(undefined, {})).toBeUndefined();
    expect(tuneHeapGrowth(undefined, { [HEAP_GROWING_ENV]: "" })).toBeUndefined();
  });

  it.each(["3x", "-1", "1001", "2.5"])("refuses %s, naming the variable", (value) => {
    expect(() => tuneHeapGrowth(undefined, { [HEAP_GROWING_ENV]: value })).toThrow(/COHORT_HEAP_GROWING_PERCENT: expected an integer percent from 0 to 1000/);
  });
});
