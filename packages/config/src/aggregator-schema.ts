import { z } from "zod";
import { localKeys } from "./local-hyperparams.js";
import { metricsSchema } from "./metrics-section.js";
import { modelSchema } from "./model-section.js";
import { MIN_TOKEN_LENGTH } from "./token.js";
import { fusionSchema } from "./fusion-section.js";
import { privacySchema } from "./privacy-section.js";

export { FUSION_ALIASES } from "./fusion-section.js";
import { flag, ignoredKey, integer, mapping, number, oneOf, section, text } from "./schema-helpers.js";

/**
 * The aggregator's YAML, under IBM FL's key names so that an IBM FL aggregator config ports
 * with few edits. Defaults live here; renaming to the normalized shape is aggregator-config.ts.
 */

export const DEFAULT_PORT = 50051;
/** gRPC's default message limit is 4 MiB; chunks stay under it, with room for the message framing, so no limit is ever raised. */
export const MAX_CHUNK_BYTES = 4 * 1024 * 1024 - 64 * 1024;
export const MIN_CHUNK_BYTES = 1024;
/**
 * 256 KiB: as fast as 1 MiB over loopback (`bench/run.mjs --only=transfer --full`: upload 252-299
 * vs 259-279 MB/s, download 337-356 vs 336-352), while every upload in flight holds about four
 * chunks in the aggregator (the message being reassembled, the one being staged, read-ahead):
 * with 32 parties uploading at once, peak RSS fell 356-389 -> 286-304 MB (`--only=rss`, 40 MB
 * model) and 1101-1128 -> 1042 MB (`--full`, 400 MB model).
 */
export const DEFAULT_CHUNK_BYTES = 256 * 1024;
export const DEFAULT_OUTPUT_DIR = "runs/latest";
/** The aggregator's HTTP/2 keepalive and the ping policy it grants parties (whose default keepalive.time_ms is 30 s). */
export const KEEPALIVE_DEFAULTS = { timeMs: 30_000, timeoutMs: 10_000, minPingIntervalMs: 10_000 } as const;
/** Phases of a round with a deadline of their own (hyperparams.global.deadlines, seconds; each defaults to max_timeout). */
export const DEADLINE_PHASES = ["download", "train", "upload", "evaluate"] as const;

const tlsSchema = section({
  enable: flag().default(false),
  cert: text("the path of a PEM certificate file").optional(),
  key: text("the path of a PEM private key file").optional(),
  ca: text("the path of a PEM CA bundle for client certificates").optional(),
  ca_cert: text("the path of a PEM CA bundle for client certificates (IBM FL's name for ca)").optional(),
  // How a party is identified under mutual TLS: its token (and a certificate naming it), or the certificate alone.
  identity: oneOf(["token", "certificate"] as const).default("token"),
});

const connectionSchema = section({
  // IBM FL's FlaskConnection / GrpcConnection and their module path: Cohort always speaks gRPC.
  name: ignoredKey(),
  path: ignoredKey(),
  sync: ignoredKey(),
  info: section({
    ip: text("a host name or IP address to listen on").default("0.0.0.0"),
    port: integer(0, 65535, "0 picks a free port").default(DEFAULT_PORT),
    chunk_size: integer(MIN_CHUNK_BYTES, MAX_CHUNK_BYTES, "bytes").default(DEFAULT_CHUNK_BYTES),
    tls_config: tlsSchema.optional(),
    keepalive: section({
      time_ms: integer(1000, undefined, "milliseconds").default(KEEPALIVE_DEFAULTS.timeMs),
      timeout_ms: integer(1000, undefined, "milliseconds").default(KEEPALIVE_DEFAULTS.timeoutMs),
      min_ping_interval_ms: integer(0, undefined, "milliseconds; at most the parties' keepalive.time_ms").default(KEEPALIVE_DEFAULTS.minPingIntervalMs),
    }).prefault({}),
    // Limits on what peers control that a deployment may want to tune; the aggregator holds the
    // defaults (services/aggregator/src/limits.ts, the README's limits table), so only keys
    // written here override them.
    limits: section({
      upload_idle_ms: integer(1000, undefined, "milliseconds").optional(),
      max_rejections: integer(0, undefined, "refused calls; 0 turns the limit off").optional(),
      rejection_window_ms: integer(1000, undefined, "milliseconds").optional(),
      rejection_cooldown_ms: integer(1000, undefined, "milliseconds").optional(),
      handshake_timeout_ms: integer(100, undefined, "milliseconds").optional(),
      unauthenticated_idle_ms: integer(100, undefined, "milliseconds").optional(),
      max_unauthenticated_per_address: integer(1, undefined, "connections").optional(),
      max_unauthenticated_connections: integer(1, undefined, "connections").optional(),
    }).optional(),
  }).prefault({}),
});

const hyperparamsSchema = section({
  global: section({
    rounds: integer(1).default(3),
    num_parties: integer(1).optional(),
    // IBM FL's older name for num_parties (its docs and experiment templates still write it).
    parties: integer(1, undefined, "the number of parties; IBM FL's older name for num_parties").optional(),
    perc_quorum: number({ min: 0, exclusiveMin: true, max: 1 }).default(1),
    max_timeout: number({ min: 0, exclusiveMin: true, unit: "seconds" }).default(600),
    deadlines: section({
      download: number({ min: 0, exclusiveMin: true, unit: "seconds" }).optional(),
      train: number({ min: 0, exclusiveMin: true, unit: "seconds" }).optional(),
      upload: number({ min: 0, exclusiveMin: true, unit: "seconds" }).optional(),
      evaluate: number({ min: 0, exclusiveMin: true, unit: "seconds" }).optional(),
    }).prefault({}),
    termination_accuracy: number({ min: 0, max: 1 }).optional(),
    // IBM FL's Krum example puts the assumed number of Byzantine parties here; Cohort's key is fusion.byzantine.
    byzantine_threshold: integer(0, undefined, "parties; IBM FL's name for fusion.byzantine").optional(),
    evaluate_every: integer(1, undefined, "rounds").default(1),
    // Parties send float32 tensors as float16 or 8-bit differences from the global model.
    compression: oneOf(["none", "float16", "int8"] as const).default("none"),
    // Secure aggregation (SecAgg+): parties upload masked updates; the aggregator sees only their sum.
    secure_aggregation: section({
      // A fraction in (0.5, 1] of the shares each party deals, or a count >= 2 (checked in aggregator-config.ts).
      threshold: number({ min: 0.5, exclusiveMin: true }).optional(),
      clipping_range: number({ min: 0, exclusiveMin: true }).optional(),
      quantization_bits: integer(2, 30, "bits").optional(),
      neighbours: integer(2, undefined, "parties").optional(),
    }).optional(),

    // DP-FedAvg: clipping, Gaussian noise, the accountant's delta and an epsilon budget (privacy-section.ts).
    differential_privacy: privacySchema.optional(),
  }),
  local: section({
    training: section({
      epochs: localKeys.epochs().default(1),
      batch_size: localKeys.batch_size().default(32),
      steps_per_epoch: localKeys.steps_per_epoch().optional(),
      validation_split: localKeys.validation_split().default(0),
      // IBM FL's generated configs put the learning rate here (PyTorch examples: lr: 1).
      lr: localKeys.lr().optional(),
    }).prefault({}),
    optimizer: section({ lr: localKeys.lr().optional() }).prefault({}),
  }).prefault({}),
});

const partyEntrySchema = section(
  {
    name: text("the party's name"),
    token: text(`a token of at least ${MIN_TOKEN_LENGTH} characters`, MIN_TOKEN_LENGTH).optional(),
    token_env: text("the name of an environment variable holding the token").optional(),
  },
  "a mapping with name and token (or token_env)",
);

export const aggregatorSchema = section(
  {
    connection: connectionSchema.prefault({}),
    fusion: fusionSchema.optional(),
    hyperparams: hyperparamsSchema,
    model: modelSchema.optional(),
    output_dir: text("a directory path").default(DEFAULT_OUTPUT_DIR),
    metrics: metricsSchema.optional(),
    // Required unless the aggregator runs with --insecure (checked in aggregator-config.ts, which knows).
    parties: z
      .array(partyEntrySchema, { error: "expected a list of allowed parties, each with name and token" })
      .min(1, { error: "expected a list of at least one allowed party" })
      .optional(),
    // Held-out data the aggregator evaluates each round's global model on (IBM FL's aggregator data handler).
    data: section({
      name: text("a data handler name such as MnistKerasDataHandler, npz or csv"),
      path: text("IBM FL's handler module path, or a JS data handler module (.mjs/.js)").optional(),
      info: mapping("a mapping of data handler settings").default({}),
    }).optional(),
    // IBM FL's metrics recorder: Cohort always writes metrics.jsonl and summary.json.
    metrics_recorder: ignoredKey(),
    // IBM FL's aggregator and protocol handler classes: their roles are built into Cohort.
    aggregator: ignoredKey(),
    protocol_handler: ignoredKey(),
  },
  "a mapping of aggregator config keys",
);

export type RawAggregatorConfig = z.output<typeof aggregatorSchema>;
