import { setFlagsFromString } from "node:v8";

/**
 * V8's old-generation growing factor for a process that streams tensors: the next full GC comes
 * when the JS heap reaches 3x what survived the last one. A service's live JS heap is small
 * (~15 MB: tensors live in ArrayBuffers outside it) while gRPC allocates fast, and with V8's
 * own factor it began a new incremental mark-compact about as soon as the last one ended: 92
 * full GCs during three 200 MB uploads, the aggregator's thread 90% busy for 150 MB/s. With 3x:
 * 22 full GCs, 220 MB/s up and 265 MB/s down (`bench/run.mjs --only=transfer --full`, child run
 * with `--trace-gc`). 5x gave 8 GCs and 240/300 MB/s, but garbage that waits longer costs
 * memory: aggregator peak RSS with 32 parties uploading a 400 MB model 1090 MB -> 1112 (3x),
 * 1135 (5x) (`--only=rss --full`).
 */
export const HEAP_GROWING_PERCENT = 200;

/**
 * Sets the factor for this process. V8 reads it each time it computes a heap limit, so it takes
 * effect from the next GC on; called first thing by `cohort aggregator` and `cohort party`.
 */
export function tuneHeapGrowth(percent = HEAP_GROWING_PERCENT): void {
  setFlagsFromString(`--heap-growing-percent=${percent}`);
}
