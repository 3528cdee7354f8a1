import { createHash } from "node:crypto";
import { type Manifest, fingerprint, manifestByteLength } from "@cohort/tensors";

export interface GlobalModel {
  round: number;
  bytes: Uint8Array;
  sha256: string;
}

/**
 * The federation's model: its manifest (fixed by the aggregator's own model or the first party
 * to join), an optional TF.js topology for export, and the packed global weights of the last
 * rounds (parties download round r - 1 to train round r, and round r to evaluate it).
 */
export class ModelStore {
  private manifestValue: Manifest | undefined;
  private fingerprintValue = "";
  private readonly rounds = new Map<number, GlobalModel>();
  private readyResolve!: () => void;
  readonly ready: Promise<void> = new Promise((resolve) => { this.readyResolve = resolve; });
  topology: string | undefined;

  get manifest(): Manifest | undefined {
    return this.manifestValue;
  }

  get fingerprint(): string {
    return this.fingerprintValue;
  }

  setManifest(manifest: Manifest): void {
    this.manifestValue = manifest;
    this.fingerprintValue = fingerprint(manifest);
  }

  get latest(): GlobalModel | undefined {
    let best: GlobalModel | undefined;
    for (const m of this.rounds.values()) if (!best || m.round > best.round) best = m;
    return best;
  }

  get(round: number): GlobalModel | undefined {
    return this.rounds.get(round);
  }

  /** Stores the global weights of a round, keeping only the newest two. */
  put(round: number, bytes: Uint8Array): GlobalModel {
    if (!this.manifestValue) throw new Error("the model's manifest must be set before its weights");
    const expected = manifestByteLength(this.manifestValue);
    if (bytes.byteLength !== expected) throw new RangeError(`global weights are ${bytes.byteLength} bytes, expected ${expected}`);
    const model = { round, bytes, sha256: createHash("sha256").update(bytes).digest("hex") };
    this.rounds.set(round, model);
    for (const r of this.rounds.keys()) if (r < round - 1) this.rounds.delete(r);
    this.readyResolve();
    return model;
  }
}
