/**
 * Log-space arithmetic for the RDP accountant: its terms span hundreds of orders of magnitude
 * (binomial coefficients times exp(i^2 / 2 sigma^2)), so they are added and subtracted as logs.
 */

/** log(exp(a) + exp(b)) without overflow. */
export function logAdd(a: number, b: number): number {
  const hi = Math.max(a, b);
  const lo = Math.min(a, b);
  if (hi === -Infinity) return -Infinity;
  return hi + Math.log1p(Math.exp(lo - hi));
}

/** log(exp(a) - exp(b)) for a >= b; throws when the difference would be negative. */
export function logSub(a: number, b: number): number {
  if (b > a) throw new RangeError(`logSub: the result would be negative (log ${a} - log ${b})`);
  if (b === -Infinity) return a;
  if (a === b) return -Infinity;
  // log(exp(a) - exp(b)) = a + log(1 - exp(b - a)); expm1 keeps precision when b is close to a.
  return a + Math.log(-Math.expm1(b - a));
}

const LOG_SQRT_PI = 0.5 * Math.log(Math.PI);
/** Below this the positive series for erf is accurate; above, erfc's continued fraction converges fast. */
const SERIES_LIMIT = 2.5;
const CONTINUED_FRACTION_TERMS = 80;

/**
 * erfc(x) for 0 <= x < SERIES_LIMIT, as 1 - erf(x) with erf's all-positive series
 * erf(x) = 2/sqrt(pi) exp(-x^2) sum 2^n x^(2n+1) / (1*3*...*(2n+1)): no cancellation within the sum.
 */
function erfcSmall(x: number): number {
  let term = x;
  let sum = x;
  for (let n = 1; n < 200 && term > 1e-17 * sum; n++) {
    term *= (2 * x * x) / (2 * n + 1);
    sum += term;
  }
  return 1 - (2 / Math.sqrt(Math.PI)) * Math.exp(-x * x) * sum;
}

/** log(erfc(x)) for x >= SERIES_LIMIT: log of exp(-x^2)/sqrt(pi) times erfc's continued fraction, evaluated from its tail. */
function logErfcLarge(x: number): number {
  // erfc(x) = exp(-x^2)/sqrt(pi) * 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + 2/(x + ...)))))
  let fraction = x;
  for (let k = CONTINUED_FRACTION_TERMS; k >= 1; k--) fraction = x + k / 2 / fraction;
  return -x * x - LOG_SQRT_PI - Math.log(fraction);
}

/** log(erfc(x)), accurate in relative terms where erfc(x) underflows doubles (x up to ~1e150). */
export function logErfc(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x === Infinity) return -Infinity;
  if (x < 0) {
    // erfc(-y) = 2 - erfc(y), which lies in (1, 2]: no precision lost.
    const y = -x;
    return Math.log(2 - (y < SERIES_LIMIT ? erfcSmall(y) : Math.exp(logErfcLarge(y))));
  }
  return x < SERIES_LIMIT ? Math.log(erfcSmall(x)) : logErfcLarge(x);
}
