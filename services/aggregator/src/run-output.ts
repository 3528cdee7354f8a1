import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { type Manifest, manifestByteLength } from "@cohort/tensors";
import { type WeightsFile, type WriteTimings, writeWeightsFile } from "./checkpoint-file.js";
import { appendLine, atomicWriteFile } from "@cohort/tensors";

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
}

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
}

/**
 * The run directory: per-round checkpoints (atomic), metrics.jsonl, state.json (what a restart
 * needs), summary.json at the end. Layout:
 *   checkpoints/round-0003.bin + round-0003.json (manifest, sha256)   metrics.jsonl   state.json   summary.json   model/
 */
export class RunOutput {
  constructor(readonly dir: string) {}

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
  async writeCheckpointSlices(round: number, manifest: Manifest, slices: Iterable<Uint8Array> | AsyncIterable<Uint8Array>): Promise<WeightsFile & WriteTimings> {
    const written = await writeWeightsFile(this.checkpointPath(round), slices, manifestByteLength(manifest));
    const metaStarted = Date.now();
    await this.writeCheckpointMeta(round, manifest, written);
    return { ...written, syncMs: written.syncMs + Date.now() - metaStarted };
  }

  private async writeCheckpointMeta(round: number, manifest: Manifest, file: Pick<WeightsFile, "path" | "size" | "sha256">): Promise<void> {
    const { path, size, sha256 } = file;
    await atomicWriteFile(path.replace(/\.bin$/, ".json"), JSON.stringify({ round, sha256, bytes: size, manifest }, null, 1));
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

  async readMetrics(): Promise<RoundMetrics[]> {
    const text = await readFile(join(this.dir, "metrics.jsonl"), "utf8").catch(() => "");
    return text.split("\n").filter(Boolean).map((line) => JSON.parse(line) as RoundMetrics);
  }
}
