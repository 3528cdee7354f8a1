import { describe, expect, it } from "vitest";
import { roundParams, validateConfig } from "./params.js";

describe("secure_aggregation config", () => {
  it("resolves a round's threshold and neighbourhood", () => {
    expect(roundParams({}, 3, 300)).toMatchObject({ threshold: 2, neighbours: 2, clippingRange: 8, bits: 22, totalExamples: 300 });
    expect(roundParams({ threshold: 3 }, 5, 10)).toMatchObject({ threshold: 3, neighbours: 4 });
    expect(roundParams({ neighbours: 4, threshold: 0.6 }, 50, 10)).toMatchObject({ threshold: 3, neighbours: 4 });
  });

  it("names the field and what was expected", () => {
    expect(() => validateConfig({ threshold: 0.4 })).toThrow(/secure_aggregation\.threshold: expected a fraction in \(0\.5, 1\]/);
    expect(() => validateConfig({ clippingRange: 0 })).toThrow(/secure_aggregation\.clipping_range: expected a positive number/);
    expect(() => validateConfig({ quantizationBits: 31 })).toThrow(/secure_aggregation\.quantization_bits: expected an integer in \[2, 30\]/);
    expect(() => validateConfig({ neighbours: 1 })).toThrow(/secure_aggregation\.neighbours/);
  });

  it("refuses what cannot protect the round's parties", () => {
    expect(() => roundParams({ threshold: 5 }, 4, 1)).toThrow(/5 shares needed but each party deals only 4/);
    expect(() => roundParams({ threshold: 2 }, 4, 1)).toThrow(/not a majority/);
    expect(() => roundParams({ quantizationBits: 30 }, 5, 1)).toThrow(/at most 4 parties/);
    expect(() => roundParams({}, 1, 1)).toThrow(/at least 2 parties/);
  });
});
