// robust_rss_mb_<algorithm>_n32: peak resident memory (VmHWM) of an aggregator in a child process
// running a robust strategy (coordinate median, Krum) over 32 parties' updates of a 4M-parameter
// model (full: 10M; every update is kept, so 32 x the model goes to disk), and robust_fuse_s_<algorithm>_n32, the round's ms.fuse (reading the same
// slice of all 32 staged updates, sorting or accumulating distances, writing the checkpoint).
// The staged strategies keep every update until the round closes: memory holds the staging
// budget (the rest spills to disk) and slices of n x 16k values; no float64 sums. Target: the
// aggregator's RSS target, 2x the model + 300 MB, as for FedAvg (bench/rss.mjs).
// Also: the same at n = 4, so that flatness in the number of parties shows (robust_rss_<a>_n32_vs_n4).
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { manifestByteLength } from "@cohort/tensors";
import { Crc32 } from "@cohort/wire";
import { benchChunkSize, floatManifest, partyList, spawnAggregator, tempDir } from "./lib/common.mjs";
import { LeanParty, uploadPacked } from "./lib/lean-party.mjs";

const ALGORITHMS = [["median", "coordinate-median", undefined], ["krum", "krum", { byzantine: 1 }]];

export async function robustRss({ full }) {
  const params = full ? 10_000_000 : 4_000_000;
  const manifest = floatManifest(params);
  const total = manifestByteLength(manifest);
  const modelMb = total / 1e6;
  const chunkSize = benchChunkSize();
  // Each party sends a different update (so sorting and distances do real work): value p / n everywhere.
  const figures = {};
  const parts = [];
  for (const [short, algorithm, fusionParams] of ALGORITHMS) {
    for (const n of [4, 32]) {
      const updates = Array.from({ length: n }, (_, p) => {
        const bytes = new Uint8Array(new Float32Array(params).fill(p / n).buffer);
        return { bytes, crc32: new Crc32().update(bytes).value };
      });
      const outputDir = await tempDir(`robust-${short}-${n}`);
      const aggregator = await spawnAggregator({ manifest, numParties: n, rounds: 1, chunkSize, initial: "zeros", outputDir, algorithm, fusionParams });
      const parties = partyList(n).map(({ name, token }) => new LeanParty(aggregator.port, name, token));
      let peak;
      try {
        await Promise.all(parties.map((p) => p.join(manifest)));
        await Promise.all(parties.map((p, i) => p.follow({
          onTrain: (round) => uploadPacked(p, updates[i].bytes, updates[i].crc32, chunkSize, { round, numExamples: 100, metrics: {}, trainSeconds: 0 }),
        })));
        await aggregator.done;
      } finally {
        parties.forEach((p) => p.close());
        peak = await aggregator.finish().catch(() => { aggregator.kill(); return NaN; });
      }
      const line = JSON.parse((await readFile(join(outputDir, "metrics.jsonl"), "utf8")).trim().split("\n")[0]);
      figures[`robust_rss_mb_${short}_n${n}`] = Math.round(peak * 1.048576);
      figures[`robust_fuse_s_${short}_n${n}`] = line.ms.fuse / 1000;
      parts.push(`${short} n${n} ${figures[`robust_rss_mb_${short}_n${n}`]} MB, fuse ${(line.ms.fuse / 1000).toFixed(1)} s`);
      updates.length = 0;
    }
  }
  const target = 2 * modelMb + 300;
  const worst = Math.max(...Object.entries(figures).filter(([k]) => k.startsWith("robust_rss_mb_")).map(([, v]) => v));
  return {
    figures,
    ratios: {
      robust_rss_vs_target: worst / target,
      robust_rss_median_n32_vs_n4: figures.robust_rss_mb_median_n32 / figures.robust_rss_mb_median_n4,
      robust_rss_krum_n32_vs_n4: figures.robust_rss_mb_krum_n32 / figures.robust_rss_mb_krum_n4,
    },
    detail: `model ${modelMb.toFixed(0)} MB (${params / 1e6}M params); ${parts.join("; ")}; target 2x model + 300 = ${target.toFixed(0)} MB; default staging budget, the rest on disk`,
  };
}
