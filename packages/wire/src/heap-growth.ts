import { setFlagsFromString } from "node:v8";

/**
 * V8's old-generation growing factor for a process that streams tensors, in percent over what
 * survived the last full GC (200: the next full GC comes at 3x). A service's live JS heap is
 * small (~15 MB: tensors live in ArrayBuffers outside it) while gRPC allocates fast, and with
 * V8's own factor the aggregator began a new incremental mark-compact about as soon as the last
 * one ended: 92 full GCs during three 200 MB uploads, its thread 90% busy for 150 MB/s. With 3x:
 * 22 full GCs, 220 MB/s up and 265 MB/s down (`bench/run.mjs --only=transfer --full`, child run
 * with `--trace-gc`). Garbage that waits longer costs memory: the aggregator's peak RSS with 8
 * and 32 parties uploading a 400 MB model rose by 20-45 MB (`--only=rss --full`), past the
 * 2x model + 300 MB target at 32. So parties use it by default and the aggregator only when
 * asked (`COHORT_HEAP_GROWING_PERCENT`).
 */
export const PARTY_HEAP_GROWING_PERCENT = 200;

/** Environment variable that sets the factor for `cohort aggregator` and `cohort party` (0: V8's own). */
export const HEAP_GROWING_ENV = "COHORT_HEAP_GROWING_PERCENT";

/**
 * Sets the factor for this process from `COHORT_HEAP_GROWING_PERCENT`, else `fallback` (none:
 * V8's own). V8 reads it each time it computes a heap limit, so it takes effect from the next GC
 * on; called first thing by `cohort aggregator` and `cohort party`. Returns the percent set.
 */
export function tuneHeapGrowth(fallback?: number, env: NodeJS.ProcessEnv = process.env): number | undefined {
  const raw = env[HEAP_GROWING_ENV];
  let percent = fallback;
  if (raw !== undefined && raw.trim() !== "") {
    percent = Number(raw);
    if (!Number.isInteger(percent) || percent < 0 || percent > 1000) {
      throw Object.assign(new Error(`${HEAP_GROWING_ENV}: expected an integer percent from 0 to 1000 (0: V8's own factor), got "${raw}"`), { code: "COHORT_BAD_ENV" });
    }
  }
  if (percent === undefined) return undefined;
  setFlagsFromString(`--heap-growing-percent=${percent}`);
  return percent;
}
