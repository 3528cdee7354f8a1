import { readFile, readdir } from "node:fs/promises";
import { join } from "node:path";
import { type Manifest, diffManifests, fingerprint, manifestByteLength } from "@cohort/tensors";
import type { Logger } from "@cohort/telemetry";
import type { FusionStrategy, StrategyState } from "@cohort/fusion";
import { type WeightsFile, hashFile } from "./checkpoint-file.js";
import type { ModelStore } from "./model-store.js";
import { OutputDirError, type RoundMetrics, type RunOutput, strategyStatePath } from "./run-output.js";
import { type StrategyStateMeta, readStrategyState } from "./strategy-state-file.js";

/**
 * What a restarted aggregator takes from its output directory: the round, and its checkpoint
 * file (size and SHA-256 verified), which the model store then serves the weights from, and the
 * fusion strategy's state written with it (verified the same way).
 */
export interface ResumePoint extends WeightsFile {
  round: number;
  manifest: Manifest;
  topology?: string;
  /** The fusion strategy's state saved with the checkpoint (a server optimizer's moments), verified. */
  strategyState?: StrategyState;
}

const CHECKPOINT = /^round-(\d{4,})\.json$/;

/**
 * Finds the newest checkpoint in `dir` whose weights match their recorded size and SHA-256.
 * A torn or corrupt checkpoint (a crash mid-write cannot produce one, since writes are atomic,
 * but a disk can) is reported and the previous one used. Returns undefined for a fresh run.
 */
export async function findResumePoint(dir: string, log: Logger): Promise<ResumePoint | undefined> {
  const folder = join(dir, "checkpoints");
  const names = await readdir(folder).catch(() => [] as string[]);
  const rounds = names.map((n) => CHECKPOINT.exec(n)).filter((m) => m !== null).map((m) => Number(m[1])).sort((a, b) => b - a);
  const topology = await readFile(join(dir, "topology.json"), "utf8").catch(() => undefined);
  for (const round of rounds) {
    const base = join(folder, `round-${String(round).padStart(4, "0")}`);
    try {
      const meta = JSON.parse(await readFile(`${base}.json`, "utf8")) as { sha256: string; bytes: number; manifest: Manifest; strategy_state?: StrategyStateMeta };
      // Hashed in slices: the weights are verified without a copy of them in memory.
      const { size, sha256, crc32 } = await hashFile(`${base}.bin`);
      if (size !== meta.bytes || size !== manifestByteLength(meta.manifest)) throw new Error(`size ${size}, recorded ${meta.bytes}`);
      if (sha256 !== meta.sha256) throw new Error("SHA-256 does not match the recorded one");
      // A damaged state file makes the checkpoint unusable as damaged weights do: the model and
      // the optimizer state that stepped it must come from the same round.
      const strategyState = meta.strategy_state ? await readStrategyState(strategyStatePath(`${base}.bin`), meta.strategy_state, meta.manifest) : undefined;
      return { round, manifest: meta.manifest, path: `${base}.bin`, size, sha256, crc32, topology, ...(strategyState ? { strategyState } : {}) };
    } catch (error) {
      log.warn({ phase: "resume", round, file: `${base}.bin`, reason: (error as Error).message }, "checkpoint unusable, trying the previous one");
    }
  }
  return undefined;
}

/** A server optimizer goes on from the moments checkpointed with the model it resumes from; a mismatch is logged, not fatal. */
export function restoreStrategyState(strategy: FusionStrategy, { round, strategyState, manifest }: ResumePoint, log: Logger): void {
  const fusion = strategy.name;
  if (strategyState && strategy.restoreState) {
    try {
      strategy.restoreState(strategyState, manifest);
      log.info({ phase: "resume", round, fusion, state: strategyState.arrays.map((a) => a.name) }, `${fusion} state restored from round ${round}`);
    } catch (error) {
      log.warn({ phase: "resume", round, fusion, reason: (error as Error).message }, `${fusion} state of round ${round} not restored: it starts afresh`);
    }
  } else if (strategyState) {
    log.warn({ phase: "resume", round, fusion, saved_by: strategyState.strategy }, `round ${round} holds ${strategyState.strategy}'s state, which ${fusion} does not use`);
  } else if (strategy.restoreState && round > 0) {
    log.warn({ phase: "resume", round, fusion }, `round ${round}'s checkpoint holds no ${fusion} state (another fusion or an older version wrote it): it starts afresh`);
  }
}

/**
 * Picks up a run that a crash or a stop interrupted: global weights and round from the last good
 * checkpoint of `output` into `store`, the strategy's state with them. Returns the round resumed
 * after, or undefined for a fresh run; throws OutputDirError for a finished run or another model's.
 */
export async function resumeRun(output: RunOutput, outputDir: string, store: ModelStore, strategy: FusionStrategy, log: Logger, privacy?: { restore(history: RoundMetrics[]): void }): Promise<number | undefined> {
  if (await output.hasSummary()) {
    throw new OutputDirError(outputDir, "holds a finished run (summary.json): choose another output_dir, or move that run away");
  }
  const point = await findResumePoint(outputDir, log);
  if (!point) return undefined;
  if (store.manifest && fingerprint(store.manifest) !== fingerprint(point.manifest)) {
    throw new OutputDirError(outputDir, `its checkpoints are of another model than the config's: ${diffManifests(store.manifest, point.manifest).slice(0, 5).join("; ")}`);
  }
  store.setManifest(point.manifest);
  store.topology ??= point.topology;
  store.putFile(point.round, point);
  const history = await output.readMetrics();
  // DP's ledger (and adaptive clip norm) from the rounds already spent.
  privacy?.restore(history);
  log.info({ phase: "resume", round: point.round, metrics_lines: history.length }, `resuming after round ${point.round}`);
  restoreStrategyState(strategy, point, log);
  return point.round;
}
