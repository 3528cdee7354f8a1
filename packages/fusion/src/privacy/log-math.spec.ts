import { describe, expect, it } from "vitest";
import { logAdd, logErfc, logSub } from "./log-math.js";

describe("log-space arithmetic", () => {
  it("adds and subtracts in log space without overflow", () => {
    expect(logAdd(Math.log(2), Math.log(3))).toBeCloseTo(Math.log(5), 14);
    expect(logAdd(1000, 1000)).toBeCloseTo(1000 + Math.log(2), 12);
    expect(logAdd(-Infinity, 5)).toBe(5);
    expect(logSub(Math.log(5), Math.log(3))).toBeCloseTo(Math.log(2), 14);
    expect(logSub(7, 7)).toBe(-Infinity);
    expect(() => logSub(1, 2)).toThrow(/negative/);
  });

  // Python's math.erfc (C library) values; erfc(26) underflows nowhere in log space.
  it.each([
    [0.5, 0.4795001221869535], [2.4, 0.0006885138966450789], [2.6, 0.00023603441652934908],
    [3, 2.2090496998585438e-5], [10, 2.088487583762545e-45], [-1, 1.842700792949715], [-3, 1.9999779095030015],
  ])("log erfc(%s) matches erfc to 1e-12 relative", (x, erfc) => {
    expect(Math.abs(logErfc(x) - Math.log(erfc))).toBeLessThan(1e-12);
  });

  it("stays finite where erfc underflows doubles", () => {
    // log(erfc(26)) = -679.8311997631943 (Python, math.log(math.erfc(26.0))); erfc(40) underflows there.
    expect(logErfc(26)).toBeCloseTo(-679.8311997631943, 10);
    expect(Number.isFinite(logErfc(40))).toBe(true);
  });
});
