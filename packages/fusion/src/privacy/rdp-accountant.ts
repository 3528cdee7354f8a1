import { logAdd, logErfc } from "./log-math.js";

/**
 * Renyi differential privacy (Mironov 2017) of the sampled Gaussian mechanism (Mironov, Talwar,
 * Zhang 2019, "Renyi Differential Privacy of the Sampled Gaussian Mechanism"), computed as
 * TensorFlow Privacy's rdp_accountant and Google's dp_accounting do: integer orders by the
 * binomial expansion, fractional orders by the two-sided series with erfc terms, and the conversion to (epsilon, delta) of Canonne, Kamath and Steinke
 * (2020, Proposition 12), which both libraries use. Add-or-remove-one neighbouring: with
 * DP-FedAvg, one party's whole data (user-level privacy).
 */

/**
 * The orders Opacus and TensorFlow Privacy default to (1.1 .. 10.9 by 0.1, 12 .. 63), plus 128,
 * 256 and 512 as dp_accounting adds for small epsilons with many rounds.
 */
export const DEFAULT_RDP_ORDERS: readonly number[] = [
  ...Array.from({ length: 99 }, (_, x) => 1 + (x + 1) / 10),
  ...Array.from({ length: 52 }, (_, x) => 12 + x),
  128, 256, 512,
];

/** The fractional series stops once both of its new terms fall below exp(this). */
const SERIES_CUTOFF_LOG = -30;

/** log A_alpha for integer alpha: sum_i C(alpha, i) q^i (1-q)^(alpha-i) exp((i^2 - i) / (2 sigma^2)). */
function logAInt(q: number, sigma: number, alpha: number): number {
  let logA = -Infinity;
  let logBinom = 0; // log C(alpha, 0)
  for (let i = 0; i <= alpha; i++) {
    if (i > 0) logBinom += Math.log((alpha - i + 1) / i);
    const term = logBinom + i * Math.log(q) + (alpha - i) * Math.log1p(-q) + (i * i - i) / (2 * sigma * sigma);
    logA = logAdd(logA, term);
  }
  return logA;
}

/** The fractional series gives up after this many terms (dp_accounting's bound too). */
const MAX_FRACTIONAL_TERMS = 1000;

/**
 * log A_alpha for fractional alpha: the series of Mironov et al. (arXiv 1908.10530, section 3.3),
 * split at z0 where the two densities cross, summing |C(alpha, i)| terms as dp_accounting now does
 * (an upper bound on A_alpha, so epsilon is never understated), until both terms fall and are
 * below exp(-30).
 */
function logAFrac(q: number, sigma: number, alpha: number): number {
  let logA0 = -Infinity;
  let logA1 = -Infinity;
  const z0 = sigma * sigma * Math.log(1 / q - 1) + 0.5;
  const sqrt2Sigma = Math.SQRT2 * sigma;
  let logCoef = 0; // log |C(alpha, i)|, updated term by term
  let last0 = -Infinity;
  let last1 = -Infinity;
  for (let i = 0; i < MAX_FRACTIONAL_TERMS; i++) {
    if (i > 0) logCoef += Math.log(Math.abs((alpha - i + 1) / i));
    const j = alpha - i;
    const logT0 = logCoef + i * Math.log(q) + j * Math.log1p(-q);
    const logT1 = logCoef + j * Math.log(q) + i * Math.log1p(-q);
    const logE0 = Math.log(0.5) + logErfc((i - z0) / sqrt2Sigma);
    const logE1 = Math.log(0.5) + logErfc((z0 - j) / sqrt2Sigma);
    const logS0 = logT0 + (i * i - i) / (2 * sigma * sigma) + logE0;
    const logS1 = logT1 + (j * j - j) / (2 * sigma * sigma) + logE1;
    logA0 = logAdd(logA0, logS0);
    logA1 = logAdd(logA1, logS1);
    if (logS0 < last0 && logS1 < last1 && Math.max(logS0, logS1) < SERIES_CUTOFF_LOG) break;
    last0 = logS0;
    last1 = logS1;
  }
  return logAdd(logA0, logA1);
}

/**
 * The RDP at order `alpha` of one step of the Gaussian mechanism with noise multiplier `sigma`
 * (noise std / sensitivity) on a Poisson sample of rate `q`.
 */
export function rdpSampledGaussian(q: number, sigma: number, alpha: number): number {
  if (!(q >= 0 && q <= 1)) throw new RangeError(`sampling rate must lie in [0, 1], got ${q}`);
  if (!(alpha > 1)) throw new RangeError(`RDP orders must be > 1, got ${alpha}`);
  if (q === 0) return 0;
  if (!(sigma > 0)) return Infinity;
  if (alpha === Infinity) return Infinity;
  if (q === 1) return alpha / (2 * sigma * sigma);
  const logA = Number.isInteger(alpha) ? logAInt(q, sigma, alpha) : logAFrac(q, sigma, alpha);
  return logA / (alpha - 1);
}

/**
 * The smallest epsilon over the orders such that (epsilon, delta)-DP follows from the RDP curve:
 * epsilon = rdp + log1p(-1/alpha) - log(delta * alpha) / (alpha - 1) (Canonne et al. 2020,
 * as dp_accounting's compute_epsilon, which also skips orders <= 1.01, where that bound is
 * numerically unstable, and returns 0 where delta already bounds the KL divergence).
 */
export function epsilonFromRdp(orders: readonly number[], rdp: readonly number[], delta: number): { epsilon: number; order: number } {
  if (!(delta > 0 && delta < 1)) throw new RangeError(`delta must lie in (0, 1), got ${delta}`);
  let best = { epsilon: Infinity, order: orders[0] };
  orders.forEach((alpha, k) => {
    const r = rdp[k];
    if (r < 0) throw new RangeError(`RDP values must be >= 0, got ${r} at order ${alpha}`);
    let epsilon: number;
    if (delta * delta + Math.expm1(-r) > 0) epsilon = 0;
    else if (alpha > 1.01) epsilon = r + Math.log1p(-1 / alpha) - Math.log(delta * alpha) / (alpha - 1);
    else epsilon = Infinity;
    if (epsilon < best.epsilon) best = { epsilon, order: alpha };
  });
  return { epsilon: Math.max(0, best.epsilon), order: best.order };
}

/** One round as the accountant sees it: the sampling rate and the effective noise multiplier of the released sum. */
export interface MechanismStep { samplingRate: number; noiseMultiplier: number }

/**
 * Composes rounds of the sampled Gaussian mechanism (RDP adds up order by order) and reports
 * (epsilon, delta). `ifAdded` answers what the next round would cost without spending it, for
 * the budget check before a round starts.
 */
export class RdpAccountant {
  private readonly rdp: number[];
  private steps = 0;
  /** RDP curves of steps already seen, by sampling rate and noise multiplier (a curve costs a few hundred ms). */
  private readonly curves = new Map<string, number[]>();

  constructor(readonly orders: readonly number[] = DEFAULT_RDP_ORDERS) {
    this.rdp = orders.map(() => 0);
  }

  get rounds(): number {
    return this.steps;
  }

  /** Adds `count` rounds of the mechanism. */
  compose(step: MechanismStep, count = 1): void {
    const cost = this.stepRdp(step);
    cost.forEach((r, k) => { this.rdp[k] += count * r; });
    this.steps += count;
  }

  epsilon(delta: number): { epsilon: number; order: number } {
    return epsilonFromRdp(this.orders, this.rdp, delta);
  }

  /** Epsilon after one more round of `step`, the accountant unchanged. */
  ifAdded(step: MechanismStep, delta: number): number {
    const cost = this.stepRdp(step);
    return epsilonFromRdp(this.orders, this.rdp.map((r, k) => r + cost[k]), delta).epsilon;
  }

  /** The accumulated RDP curve (tests, logs). */
  curve(): readonly number[] {
    return this.rdp;
  }

  private stepRdp({ samplingRate, noiseMultiplier }: MechanismStep): number[] {
    const key = `${samplingRate}/${noiseMultiplier}`;
    let curve = this.curves.get(key);
    if (!curve) {
      curve = this.orders.map((alpha) => rdpSampledGaussian(samplingRate, noiseMultiplier, alpha));
      this.curves.set(key, curve);
    }
    return curve;
  }
}
