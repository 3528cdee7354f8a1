import { randomFillSync } from "node:crypto";

/**
 * Gaussian noise from the operating system's CSPRNG (node:crypto), never Math.random: DP noise
 * that an observer could predict from a few outputs (V8's xorshift128+) protects nothing.
 * Box-Muller on uniform doubles of 53 random bits each.
 */

/** 32-bit words drawn per refill of the pool (4 per normal pair). */
const POOL_WORDS = 16 * 1024;
const TWO_POW_53 = 2 ** 53;

/** Fills arrays with independent N(0, stddev^2) draws. */
export class GaussianNoise {
  private readonly pool = new Uint32Array(POOL_WORDS);
  private at = POOL_WORDS;

  /** out[j] = N(0, stddev^2) for every j (stddev 0: zeros). */
  fill(out: Float64Array, stddev: number): Float64Array {
    if (!(stddev >= 0) || !Number.isFinite(stddev)) throw new RangeError(`noise stddev must be finite and >= 0, got ${stddev}`);
    for (let j = 0; j < out.length; j += 2) {
      // u1 in (0, 1] keeps log(u1) finite; u2 in [0, 1).
      const u1 = (this.uniform53() + 1) / TWO_POW_53;
      const u2 = this.uniform53() / TWO_POW_53;
      const radius = stddev * Math.sqrt(-2 * Math.log(u1));
      out[j] = radius * Math.cos(2 * Math.PI * u2);
      if (j + 1 < out.length) out[j + 1] = radius * Math.sin(2 * Math.PI * u2);
    }
    return out;
  }

  /** out[j] += N(0, stddev^2), `scratch`-sized blocks at a time. */
  add(out: Float64Array, stddev: number): void {
    if (stddev === 0) return;
    const block = new Float64Array(Math.min(out.length, 64 * 1024));
    for (let at = 0; at < out.length; at += block.length) {
      const n = Math.min(block.length, out.length - at);
      const noise = this.fill(block.subarray(0, n), stddev);
      for (let j = 0; j < n; j++) out[at + j] += noise[j];
    }
  }

  /** A uniform integer in [0, 2^53) from two pool words. */
  private uniform53(): number {
    if (this.at + 2 > POOL_WORDS) {
      randomFillSync(this.pool);
      this.at = 0;
    }
    const high = this.pool[this.at++] >>> 11; // 21 bits
    const low = this.pool[this.at++]; // 32 bits
    return high * 2 ** 32 + low;
  }
}
