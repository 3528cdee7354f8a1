import { encodeInto } from "../numeric-slices.js";
import { coordinateSlices } from "../staged-slices.js";
import type { FusionStrategy, RoundInput, StagedUpdate, TrainConfig } from "../strategy.js";

/**
 * Krum and multi-Krum (Blanchard et al., "Machine Learning with Adversaries: Byzantine Tolerant
 * Gradient Descent"; IBM FL's KrumFusionHandler). Each update's score is the sum of its squared
 * distances to its n - f - 2 nearest others (at least 1), f being the number of Byzantine
 * parties assumed; the m lowest-scored updates (ties: the earlier in the round's order, parties
 * sorted by name) are averaged, unweighted. m = 1 is Krum.
 *
 * Two passes over the staged updates: the n x n squared distances are accumulated slice by slice
 * (n^2/2 multiply-adds per weight), then the chosen updates' mean is written slice by slice.
 */
export class KrumStrategy implements FusionStrategy {
  readonly mode = "staged";
  readonly name: "krum" | "multi-krum";

  /** `keep`: m, the updates averaged; undefined is multi-Krum with m = n - f (decided each round). */
  constructor(readonly byzantine: number, readonly keep: number | undefined) {
    if (!Number.isInteger(byzantine) || byzantine < 0) throw new RangeError(`krum f (byzantine parties) must be an integer >= 0, got ${byzantine}`);
    if (keep !== undefined && (!Number.isInteger(keep) || keep < 1)) throw new RangeError(`krum m (updates kept) must be an integer >= 1, got ${keep}`);
    this.name = keep === 1 ? "krum" : "multi-krum";
  }

  configureTrain(): TrainConfig {
    return { proximalMu: 0 };
  }

  weightOf(): number {
    return 1;
  }

  /** Squared Euclidean distances between every pair of updates (n x n, symmetric, zero diagonal). */
  async distances(input: RoundInput): Promise<Float64Array> {
    const n = input.updates.length;
    const d = new Float64Array(n * n);
    for await (const { entry, values } of coordinateSlices(input.manifest, input.updates, input.sliceBytes, "update")) {
      // Update-major: each pair's distance over the slice is one tight loop over two contiguous rows.
      const m = entry.elements;
      for (let u = 0; u < n; u++) {
        const a = values.subarray(u * m, (u + 1) * m);
        for (let k = u + 1; k < n; k++) d[u * n + k] += squaredDistance(a, values.subarray(k * m, (k + 1) * m));
      }
    }
    for (let u = 0; u < n; u++) for (let k = u + 1; k < n; k++) d[k * n + u] = d[u * n + k];
    return d;
  }

  /** Each update's Krum score from the distance matrix. */
  scores(d: Float64Array, n: number): number[] {
    const nearest = Math.max(1, n - this.byzantine - 2);
    return Array.from({ length: n }, (_, u) => {
      const others = [];
      for (let k = 0; k < n; k++) if (k !== u) others.push(d[u * n + k]);
      others.sort((a, b) => a - b);
      return others.slice(0, nearest).reduce((s, x) => s + x, 0);
    });
  }

  async *aggregate(input: RoundInput): AsyncGenerator<Uint8Array, void, undefined> {
    const n = input.updates.length;
    const scores = n === 1 ? [0] : this.scores(await this.distances(input), n);
    const order = scores.map((score, u) => ({ score, u })).sort((a, b) => a.score - b.score || a.u - b.u);
    const chosen: StagedUpdate[] = order.slice(0, Math.max(1, Math.min(this.keep ?? n - this.byzantine, n))).map(({ u }) => input.updates[u]);
    input.report.krum_selected = chosen.map((c) => c.party);
    input.report.krum_scores = Object.fromEntries(order.map(({ score, u }) => [input.updates[u].party, score]));
    if (n < 2 * this.byzantine + 3) input.report.krum_warning = `${n} updates: Krum's guarantee needs n >= 2f + 3 = ${2 * this.byzantine + 3}`;
    const m = chosen.length;
    let out = new Float64Array(0);
    let bytes = new Uint8Array(0);
    for await (const { entry, values } of coordinateSlices(input.manifest, chosen, input.sliceBytes)) {
      if (out.length < entry.elements) out = new Float64Array(entry.elements);
      if (bytes.byteLength < entry.bytes) bytes = new Uint8Array(entry.bytes);
      for (let j = 0; j < entry.elements; j++) {
        let sum = 0;
        for (let u = 0; u < m; u++) sum += values[j * m + u];
        out[j] = sum / m;
      }
      yield encodeInto(entry.dtype, out.subarray(0, entry.elements), bytes);
    }
  }
}

/** Sum of (a[j] - b[j])^2 over equal-length rows, four partial sums (fewer dependent additions). */
function squaredDistance(a: Float64Array, b: Float64Array): number {
  const n = a.length;
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  let j = 0;
  for (; j + 4 <= n; j += 4) {
    const d0 = a[j] - b[j], d1 = a[j + 1] - b[j + 1], d2 = a[j + 2] - b[j + 2], d3 = a[j + 3] - b[j + 3];
    s0 += d0 * d0; s1 += d1 * d1; s2 += d2 * d2; s3 += d3 * d3;
  }
  for (; j < n; j++) {
    const d = a[j] - b[j];
    s0 += d * d;
  }
  return s0 + s1 + s2 + s3;
}
