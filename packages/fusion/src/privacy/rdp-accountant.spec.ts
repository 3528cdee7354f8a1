import { describe, expect, it } from "vitest";
import { DEFAULT_RDP_ORDERS, RdpAccountant, epsilonFromRdp, rdpSampledGaussian } from "./rdp-accountant.js";

/**
 * Published test vectors of Google's dp_accounting (the successor of TensorFlow Privacy's
 * rdp_accountant; same tests): python/dp_accounting/dp_accounting/rdp/rdp_privacy_accountant_test.py
 * in github.com/google/differential-privacy (commit 0b109e9): test_compute_rdp_poisson_sampled_gaussian,
 * test_compute_epsilon_delta_pure_dp, test_compute_epsilon_delta_gaussian.
 */
describe("RDP accountant (sampled Gaussian mechanism)", () => {
  it("matches dp_accounting's RDP of 50 steps at q = 0.01, sigma = 2.5 within 1%", () => {
    const orders = [1.5, 2.5, 5, 50, 100];
    const expected = [6.70579741e-4, 1.0854871e-3, 2.18075656e-3, 2.38460375e-2, 1.67416308e2];
    orders.forEach((alpha, k) => {
      const rdp = 50 * rdpSampledGaussian(0.01, 2.5, alpha);
      expect(Math.abs(rdp / expected[k] - 1), `order ${alpha}: ${rdp} vs ${expected[k]}`).toBeLessThan(1e-3);
    });
    expect(rdpSampledGaussian(0.01, 2.5, Infinity)).toBe(Infinity);
  });

  it("matches dp_accounting's epsilon for constant RDP (pure DP): 1.32783806176 at order 32", () => {
    const orders = Array.from({ length: 31 }, (_, k) => k + 2);
    const { epsilon, order } = epsilonFromRdp(orders, orders.map(() => 1.1), 1e-5);
    expect(epsilon).toBeCloseTo(1.32783806176, 9);
    expect(order).toBe(32);
  });

  it("matches dp_accounting's (1, 1e-6) Gaussian: sigma 4.530877117 with q = 1", () => {
    const orders = Array.from({ length: 99000 }, (_, k) => 0.001 * (k + 1000)).filter((a) => a > 1);
    const rdp = orders.map((a) => rdpSampledGaussian(1, 4.530877117, a));
    expect(epsilonFromRdp(orders, rdp, 1e-6).epsilon).toBeCloseTo(1, 5);
  });

  it("composes rounds additively and prices the next round without spending it", () => {
    const once = new RdpAccountant();
    once.compose({ samplingRate: 0.1, noiseMultiplier: 1.1 }, 10);
    const stepwise = new RdpAccountant();
    for (let r = 0; r < 10; r++) stepwise.compose({ samplingRate: 0.1, noiseMultiplier: 1.1 });
    expect(stepwise.epsilon(1e-5).epsilon).toBeCloseTo(once.epsilon(1e-5).epsilon, 10);
    const next = once.ifAdded({ samplingRate: 0.1, noiseMultiplier: 1.1 }, 1e-5);
    expect(next).toBeGreaterThan(once.epsilon(1e-5).epsilon);
    once.compose({ samplingRate: 0.1, noiseMultiplier: 1.1 });
    expect(once.epsilon(1e-5).epsilon).toBeCloseTo(next, 12);
    expect(once.rounds).toBe(11);
  });

  it("spends nothing at q = 0 and everything without noise", () => {
    const accountant = new RdpAccountant();
    accountant.compose({ samplingRate: 0, noiseMultiplier: 1 });
    expect(accountant.epsilon(1e-10).epsilon).toBe(0);
    accountant.compose({ samplingRate: 0.5, noiseMultiplier: 0 });
    expect(accountant.epsilon(1e-5).epsilon).toBe(Infinity);
  });

  it("uses Opacus' default orders plus 128, 256, 512", () => {
    expect(DEFAULT_RDP_ORDERS.slice(0, 3)).toEqual([1.1, 1.2, 1.3]);
    expect(DEFAULT_RDP_ORDERS).toContain(10.9);
    expect(DEFAULT_RDP_ORDERS).toContain(63);
    expect(DEFAULT_RDP_ORDERS.at(-1)).toBe(512);
  });
});
