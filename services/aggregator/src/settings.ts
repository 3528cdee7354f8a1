import type { LocalHyperparams } from "@cohort/config";
import type { DifferentialPrivacySettings, FusionName, FusionSettings } from "@cohort/fusion";
import type { Manifest, UpdateEncoding } from "@cohort/tensors";
import type { SecureAggregationConfig } from "@cohort/secagg";
import type { IdentityMode } from "./identity.js";
import type { PhaseDeadlines } from "./deadlines.js";
import type { AggregatorLimits, ServerKeepalive } from "./limits.js";

/** What the aggregator needs to run; the CLI maps the YAML config onto it. */
export interface AggregatorSettings {
  host: string;
  port: number;
  chunkSize: number;
  /** How parties send updates (default float32); float16/int8 send differences from the round's base model. */
  updateEncoding?: UpdateEncoding;
  algorithm: FusionName;
  /** The strategy's parameters (fusion section: beta, f, m, mu, eta, beta1, beta2, tau, momentum). */
  fusionParams?: Omit<FusionSettings, "name">;
  /** DP-FedAvg: clipping, noise, accounting and the epsilon budget; absent: off. */
  privacy?: DifferentialPrivacySettings;
  /** Largest L2 norm of an update's change to the global model; unset: no bound. */
  maxUpdateNorm?: number;
  /** What happens to an update over maxUpdateNorm: scaled down to it (clip, the default) or refused. */
  updateNormAction?: "clip" | "refuse";
  /** A negative loss in an update or evaluation report: refused (the default: most losses are >= 0) or accepted (a loss that can be negative). */
  negativeLoss?: "refuse" | "accept";
  rounds: number;
  numParties: number;
  percQuorum: number;
  maxTimeoutMs: number;
  /** Per-party deadlines of a round's phases (deadlines.ts); each defaults to maxTimeoutMs. */
  deadlines?: Partial<PhaseDeadlines>;
  terminationAccuracy?: number;
  /** Evaluate the global model every this many rounds (and after the last); default 1. */
  evaluateEvery?: number;
  local: LocalHyperparams;
  outputDir: string;
  parties: { name: string; token: string }[];
  /** --insecure: no allow-list, any party name joins (and a warning says so at start and on every join). */
  insecure?: boolean;
  /** Shared memory budget for in-flight updates before they spill to disk (default: the model's size, clamped to [64 MiB, 256 MiB]). */
  stagingMemoryBytes?: number;
  /** TLS: the aggregator's certificate and key; with a CA, parties must present certificates it signed (mutual TLS). */
  tls?: { certFile: string; keyFile: string; caFile?: string; identity?: IdentityMode };
  /** Load a TLS key that other users may read (`--allow-insecure-key-permissions`); refused otherwise. */
  allowInsecureKeyPermissions?: boolean;
  /** Overrides of the limits on what peers control (limits.ts has the defaults). */
  limits?: Partial<AggregatorLimits>;
  /** Secure aggregation (hyperparams.global.secure_aggregation): parties send masked updates, the aggregator sees only their sum. */
  secureAggregation?: SecureAggregationConfig;
  /** HTTP/2 keepalive of the parties' connections and the ping policy (limits.ts has the defaults). */
  keepalive?: Partial<ServerKeepalive>;
}

export interface InitialModel {
  manifest: Manifest;
  bytes: Uint8Array;
  topology?: string;
}

/** Writes the final model in the formats the deployment wants; returns the files written. */
export type ModelExporter = (dir: string, manifest: Manifest, bytes: Uint8Array, topology: string | undefined) => Promise<string[]>;

/**
 * Evaluates a round's global model on the aggregator's own held-out data (the config's `data`
 * section, IBM FL's aggregator-side evaluation): the example count and metrics (accuracy, and
 * loss when the aggregator knows the model's loss).
 */
export type GlobalEvaluator = (round: number, manifest: Manifest, bytes: Uint8Array, topology: string | undefined) => Promise<{ examples: number; metrics: Record<string, number> }>;
