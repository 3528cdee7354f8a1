// An aggregator in its own process, so that its memory can be read from /proc (VmHWM) apart
// from the parties'. Config (JSON in argv[2]): params or manifest, numParties, rounds,
// chunkSize, stagingMemoryBytes, outputDir, initial ("zeros" gives the aggregator its own model),
// algorithm and fusionParams (default fedavg), secureAggregation (off by default).
// Prints {"port"} once listening and {"summary"} at the end, then waits for stdin to close.
import { Aggregator } from "@cohort/aggregator";
import { manifestByteLength } from "@cohort/tensors";
import { tuneHeapGrowth } from "@cohort/wire";
import { benchChunkSize, floatManifest, partyList, silentLogger } from "./common.mjs";

tuneHeapGrowth(); // as `cohort aggregator` does: COHORT_HEAP_GROWING_PERCENT, else V8's own
const config = JSON.parse(process.argv[2]);
const emit = (event) => process.stdout.write(`${JSON.stringify(event)}\n`);
try {
  const manifest = config.manifest ?? floatManifest(config.params);
  const initialModel = config.initial === "zeros" ? { manifest, bytes: new Uint8Array(manifestByteLength(manifest)) } : undefined;
  const aggregator = new Aggregator({
    host: "127.0.0.1", port: 0, chunkSize: config.chunkSize ?? benchChunkSize(), algorithm: config.algorithm ?? "fedavg", fusionParams: config.fusionParams, rounds: config.rounds ?? 1,
    numParties: config.numParties, percQuorum: 1, maxTimeoutMs: config.maxTimeoutMs ?? 600_000,
    local: { epochs: 1, batchSize: 32, validationSplit: 0 }, outputDir: config.outputDir, parties: partyList(config.numParties),
    stagingMemoryBytes: config.stagingMemoryBytes, ...(config.secureAggregation ? { secureAggregation: config.secureAggregation } : {}),
  }, silentLogger("aggregator"), { initialModel });
  emit({ port: await aggregator.start() });
  const summary = await aggregator.run();
  await aggregator.close();
  emit({ summary, rss_now_mib: process.memoryUsage().rss / 2 ** 20 });
  // Stay alive (so the parent can read VmHWM) until the parent closes stdin.
  process.stdin.resume();
  process.stdin.on("end", () => process.exit(0));
} catch (error) {
  emit({ error: error instanceof Error ? error.stack ?? error.message : String(error) });
  process.exit(1);
}
