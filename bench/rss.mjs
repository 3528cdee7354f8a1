// aggregator_rss_mb_n{2,8,32}: peak resident memory (VmHWM from /proc/<pid>/status) of an
// aggregator in a child process while N parties upload a 100M-parameter update at once (full;
// reduced: 10M). The parties are lean clients in this process sharing one packed buffer, so
// only the aggregator's memory is measured. Target: at most 2x the model + 300 MB, flat in N.
// What the aggregator holds: the float64 sums (2x the model); global models are served from their
// checkpoint files (the mean is written to the file in 4 MiB slices), and the 400 MB updates
// spill to disk past the default staging budget.
import { manifestByteLength } from "@cohort/tensors";
import { Crc32 } from "@cohort/wire";
import { benchChunkSize, floatManifest, partyList, spawnAggregator, tempDir } from "./lib/common.mjs";
import { LeanParty, uploadPacked } from "./lib/lean-party.mjs";

export async function aggregatorRss({ full }) {
  const params = full ? 100_000_000 : 10_000_000;
  const manifest = floatManifest(params);
  const total = manifestByteLength(manifest);
  const bytes = new Uint8Array(new Float32Array(params).fill(0.5).buffer);
  const crc32 = new Crc32().update(bytes).value;
  const chunkSize = benchChunkSize();
  const figures = {};
  const parts = [];
  const modelMb = total / 1e6;
  for (const n of [2, 8, 32]) {
    const aggregator = await spawnAggregator({ manifest, numParties: n, rounds: 1, chunkSize, initial: "zeros", outputDir: await tempDir(`rss-${n}`) });
    const parties = partyList(n).map(({ name, token }) => new LeanParty(aggregator.port, name, token));
    let peak;
    try {
      await Promise.all(parties.map((p) => p.join(manifest)));
      await Promise.all(parties.map((p) => p.follow({
        onTrain: (round) => uploadPacked(p, bytes, crc32, chunkSize, { round, numExamples: 100, metrics: {}, trainSeconds: 0 }),
      })));
      await aggregator.done;
    } finally {
      parties.forEach((p) => p.close());
      peak = await aggregator.finish().catch(() => { aggregator.kill(); return NaN; });
    }
    figures[`aggregator_rss_mb_n${n}`] = Math.round(peak * 1.048576); // MiB -> MB
    parts.push(`n${n} ${figures[`aggregator_rss_mb_n${n}`]} MB`);
  }
  const target = 2 * modelMb + 300;
  const worst = Math.max(figures.aggregator_rss_mb_n2, figures.aggregator_rss_mb_n8, figures.aggregator_rss_mb_n32);
  return {
    figures,
    ratios: { aggregator_rss_vs_target: worst / target, aggregator_rss_n32_vs_n2: figures.aggregator_rss_mb_n32 / figures.aggregator_rss_mb_n2 },
    detail: `model ${modelMb.toFixed(0)} MB (${params / 1e6}M params); peak RSS ${parts.join(", ")}; target 2x model + 300 = ${target.toFixed(0)} MB; default staging budget (the model's size, clamped to [64 MiB, 256 MiB])`,
  };
}
