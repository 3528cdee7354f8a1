import { describe, expect, it } from "vitest";
import { PrivacyLedger } from "./privacy-ledger.js";
import { RdpAccountant } from "./rdp-accountant.js";

describe("PrivacyLedger", () => {
  it("reports 0 before any round and the accountant's epsilon after each", () => {
    const ledger = new PrivacyLedger(1e-5, 0.5);
    expect(ledger.epsilon).toBe(0);
    const reference = new RdpAccountant();
    for (const z of [1.5, 1.0, 2.0]) {
      reference.compose({ samplingRate: 0.5, noiseMultiplier: z });
      expect(ledger.record(z)).toBeCloseTo(reference.epsilon(1e-5).epsilon, 12);
    }
    expect(ledger.rounds).toBe(3);
  });

  it("prices the next round without spending it, and stops only past the budget", () => {
    const ledger = new PrivacyLedger(1e-5, 1, 2);
    const next = ledger.priceNext(4);
    expect(ledger.epsilon).toBe(0);
    expect(ledger.budgetStop(1, 4)).toBeUndefined();
    ledger.record(4);
    expect(ledger.epsilon).toBeCloseTo(next, 12);
    expect(ledger.budgetStop(2, 0.5)).toMatch(/^privacy budget: round 2 would take epsilon to \d+\.\d{3} > target_epsilon 2 /);
    expect(new PrivacyLedger(1e-5, 1).budgetStop(9, 0.1)).toBeUndefined();
  });
});
