// round_overhead: the built `cohort demo` (1 aggregator + 3 party processes, MNIST, TF.js),
// 2 rounds. Per round: (round wall - slowest party's local training time) / round wall, with
// round wall = metrics.jsonl ms.round and training time = train_seconds of each party's
// "update uploaded" log line. Reported: the mean over rounds. Target at most 0.05.
import { execFile } from "node:child_process";
import { readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { tempDir } from "./lib/common.mjs";

const CLI = fileURLToPath(new URL("../packages/cli/dist/main.js", import.meta.url));

export async function roundOverhead({ full }) {
  const rounds = full ? 3 : 2;
  const parties = 3;
  const out = join(await tempDir("demo"), "demo");
  await promisify(execFile)(process.execPath, [CLI, "demo", "--rounds", String(rounds), "--parties", String(parties), "--out", out], { maxBuffer: 1 << 24 });
  const metrics = (await readFile(join(out, "run", "metrics.jsonl"), "utf8")).trim().split("\n").map((l) => JSON.parse(l));
  const trainSeconds = new Map(); // round -> slowest party's train_seconds
  for (let i = 0; i < parties; i++) {
    for (const line of (await readFile(join(out, "logs", `party${i}.log`), "utf8")).split("\n")) {
      if (!line.includes("update uploaded")) continue;
      const event = JSON.parse(line);
      trainSeconds.set(event.round, Math.max(trainSeconds.get(event.round) ?? 0, event.train_seconds));
    }
  }
  const perRound = metrics.map((m) => {
    const roundS = m.ms.round / 1000;
    const trainS = trainSeconds.get(m.round) ?? NaN;
    return { round: m.round, roundS, trainS, overhead: (roundS - trainS) / roundS, ms: m.ms };
  });
  await rm(join(out, ".."), { recursive: true, force: true });
  const mean = perRound.reduce((s, r) => s + r.overhead, 0) / perRound.length;
  return {
    figures: { round_overhead: mean },
    detail: perRound.map((r) => `round ${r.round}: wall ${r.roundS.toFixed(2)} s, slowest train ${r.trainS.toFixed(2)} s, overhead ${r.overhead.toFixed(3)} (ms train-phase ${r.ms.train}, fuse ${r.ms.fuse}, checkpoint ${r.ms.checkpoint}, eval ${r.ms.eval})`).join("; "),
  };
}
