import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { type Manifest, manifestByteLength } from "@cohort/tensors";
import type { RoundPrivacy, StrategyState } from "@cohort/fusion";
import type { PrivacySummary } from "./run-privacy.js";
import { type WeightsFile, type WriteTimings, writeWeightsFile } from "./checkpoint-file.js";
import { type StrategyStateMeta, writeStrategyState } from "./strategy-state-file.js";
import { FileIOError, appendLine, atomicWriteFile, isSystemError } from "@cohort/tensors";

/** One line of metrics.jsonl. */
export interface RoundMetrics {
  round: number;
  parties: string[];
  missing: string[];
  examples: number;
  train: Record<string, number>;
  eval: Record<string, number>;
  /** Parties whose evaluation reports (of at least one example) make `eval`; termination_accuracy needs at least quorum of them. */
  eval_parties?: number;
  /** What the fusion strategy decided (Krum's chosen parties, updates clipped or refused, ...). */
  fusion?: Record<string, unknown>;
  ms: { train: number; fuse: number; checkpoint: number; eval: number; round: number };
  bytes_in: number;
  bytes_out: number;
  /** Each contributing party's own numbers: what it trained on, its local metrics, its evaluation of the new global model. */
  by_party?: Record<string, PartyRoundMetrics>;
  /** The aggregator's own evaluation of the new global model on its held-out data (config `data`): `examples`, `accuracy`, `loss` when known. */
  aggregator_eval?: Record<string, number>;
  /** Differential privacy: epsilon spent so far at delta, the round's noise multiplier and clip norm. */
  privacy?: RoundPrivacy;

  /**
   * Set on a line written after a restart for a round whose checkpoint was written but whose line
   * was not (the aggregator died, or its disk filled, between the two): how its `eval` was obtained.
   */
  recovered?: string;
}

/** What a round's checkpoint records of its line before the evaluation: everything but `eval` (and the later timings). */
export type PendingRoundMetrics = Omit<RoundMetrics, "eval" | "recovered">;

/**
 * An output_dir the aggregator cannot use (read-only, not a folder, not permitted, or holding a
 * finished run): a setting to change, so exit code 2, found before any party joins.
 */
export class OutputDirError extends Error {
  override readonly name = "OutputDirError";
  readonly code = "OUTPUT_DIR";
  readonly exitCode = 2;
  constructor(readonly path: string, problem: string, cause?: unknown) {
    super(`output_dir ${path}: ${problem}`, cause === undefined ? undefined : { cause });
  }
}

/**
 * mkdir -p whose error is the real one: Node's recursive mkdir reports ENOENT when a parent
 * cannot be created on a read-only file system; creating each missing level in turn gives EROFS.
 */
async function makeFolders(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT" || dirname(dir) === dir) throw error;
    await makeFolders(dirname(dir));
    await mkdir(dir).catch((e: NodeJS.ErrnoException) => { if (e.code !== "EEXIST") throw e; });
  }
}

/** Codes of a disk that may work again once freed or repaired (a restart resumes): not a setting to change. */
const TRANSIENT_DISK_CODES = new Set(["ENOSPC", "EDQUOT", "EIO", "EMFILE", "ENFILE", "ENOMEM"]);

export interface PartyRoundMetrics {
  examples: number;
  train: Record<string, number>;
  train_seconds: number;
  eval: Record<string, number>;
}

export interface RunSummary {
  rounds_completed: number;
  final: { accuracy: number | null; loss: number | null };
  parties: string[];
  wall_seconds: number;
  stopped_because: string;
  /** The round that failed and ended the run (too few updates, or a fold that failed part way), if one did. */
  failed_round?: number;
  fusion: string;
  exported: string[];
  /** The aggregator's last evaluation of the global model on its own held-out data, when the config has `data`. */
  aggregator_eval?: Record<string, number>;
  /** Differential privacy: the epsilon spent at delta (the stop reason says when the budget ended the run). */
  privacy?: PrivacySummary;
}

/**
 * The run directory: per-round checkpoints (atomic), metrics.jsonl, state.json (what a restart
 * needs), summary.json at the end. Layout:
 *   checkpoints/round-0003.bin + round-0003.json (manifest, sha256)   metrics.jsonl   state.json   summary.json   model/
 */
export class RunOutput {
  constructor(readonly dir: string) {}

  /**
   * Creates the folder and writes and removes a small probe file in it, so that a read-only or
   * unwritable output_dir stops the aggregator at start, naming the path, instead of after the
   * parties joined and trained. A full disk is reported as what it is (a FileIOError, exit 1).
   */
  async checkWritable(): Promise<void> {
    const probe = join(this.dir, `.write-check-${process.pid}`);
    try {
      await makeFolders(this.dir);
      await writeFile(probe, "cohort checks that output_dir is writable\n");
      await rm(probe, { force: true });
    } catch (error) {
      await rm(probe, { force: true }).catch(() => undefined);
      const code = (error as NodeJS.ErrnoException).code ?? "";
      if (isSystemError(error) && TRANSIENT_DISK_CODES.has(code)) throw new FileIOError(this.dir, "write in output_dir", error);
      throw new OutputDirError(this.dir, `not writable (${code || (error as Error).message}): choose another output_dir (or --output-dir), or make this one writable by the aggregator's user`, error);
    }
  }

  checkpointPath(round: number): string {
    return join(this.dir, "checkpoints", `round-${String(round).padStart(4, "0")}.bin`);
  }

  async writeCheckpoint(round: number, manifest: Manifest, bytes: Uint8Array, sha256: string): Promise<void> {
    const path = this.checkpointPath(round);
    await atomicWriteFile(path, bytes);
    await this.writeCheckpointMeta(round, manifest, { path, size: bytes.byteLength, sha256 });
  }

  /**
   * Writes a round's checkpoint from `slices` of its packed weights, consumed one at a time (the
   * fused mean slice by slice, or a staged upload): hashed on the way, written atomically, then
   * its .json and state.json. The weights never need to be in memory as a whole; the returned
   * file is what the aggregator serves downloads from.
   */
  async writeCheckpointSlices(
    round: number, manifest: Manifest, slices: Iterable<Uint8Array> | AsyncIterable<Uint8Array>, pending?: PendingRoundMetrics,
    strategyState?: () => StrategyState | undefined,
  ): Promise<WeightsFile & WriteTimings> {
    const written = await writeWeightsFile(this.checkpointPath(round), slices, manifestByteLength(manifest));
    const metaStarted = Date.now();
    // Asked once the slices are consumed: the strategy's state after this round's aggregate. Written
    // before the .json, which is what makes the checkpoint exist for a restart.
    const state = strategyState?.();
    const stateMeta = state ? await writeStrategyState(strategyStatePath(written.path), state) : undefined;
    await this.writeCheckpointMeta(round, manifest, written, pending, stateMeta);
    return { ...written, syncMs: written.syncMs + Date.now() - metaStarted };
  }

  /** `pending`: the round's metrics line but its evaluation, kept so a restart can still write the line (see recoverLostRounds). */
  private async writeCheckpointMeta(round: number, manifest: Manifest, file: Pick<WeightsFile, "path" | "size" | "sha256">, pending?: PendingRoundMetrics, strategyState?: StrategyStateMeta): Promise<void> {
    const { path, size, sha256 } = file;
    const meta = { round, sha256, bytes: size, manifest, ...(pending ? { metrics: pending } : {}), ...(strategyState ? { strategy_state: strategyState } : {}) };
    await atomicWriteFile(path.replace(/\.bin$/, ".json"), JSON.stringify(meta, null, 1));
    await atomicWriteFile(join(this.dir, "state.json"), JSON.stringify({ round, checkpoint: path, sha256, updated: new Date().toISOString() }, null, 1));
  }

  /** The TF.js topology parties sent, kept so a restarted aggregator can still export the model. */
  async writeTopology(topology: string): Promise<void> {
    await atomicWriteFile(join(this.dir, "topology.json"), topology);
  }

  async hasSummary(): Promise<boolean> {
    return readFile(join(this.dir, "summary.json")).then(() => true, () => false);
  }

  async appendMetrics(metrics: RoundMetrics): Promise<void> {
    await appendLine(join(this.dir, "metrics.jsonl"), JSON.stringify(metrics));
  }

  async writeSummary(summary: RunSummary): Promise<void> {
    await atomicWriteFile(join(this.dir, "summary.json"), JSON.stringify(summary, null, 2));
  }

  /** The lines of metrics.jsonl; a line that is not JSON (a torn write on another file system) is left out. */
  async readMetrics(): Promise<RoundMetrics[]> {
    const text = await readFile(join(this.dir, "metrics.jsonl"), "utf8").catch(() => "");
    return text.split("\n").filter(Boolean).flatMap((line) => {
      try {
        return [JSON.parse(line) as RoundMetrics];
      } catch {
        return [];
      }
    });
  }

  /** The metrics a round's checkpoint recorded before its evaluation (undefined for checkpoints written before they did). */
  async readPendingMetrics(round: number): Promise<PendingRoundMetrics | undefined> {
    const text = await readFile(this.checkpointPath(round).replace(/\.bin$/, ".json"), "utf8").catch(() => undefined);
    if (text === undefined) return undefined;
    try {
      return (JSON.parse(text) as { metrics?: PendingRoundMetrics }).metrics;
    } catch {
      return undefined;
    }
  }
}

/** Beside checkpoints/round-NNNN.bin: round-NNNN.state.bin, the fusion strategy's state after that round. */
export function strategyStatePath(weightsPath: string): string {
  return weightsPath.replace(/\.bin$/, ".state.bin");
}
