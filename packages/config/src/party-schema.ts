import { z } from "zod";
import { DEFAULT_PORT } from "./aggregator-schema.js";
import { localKeys } from "./local-hyperparams.js";
import { metricsSchema } from "./metrics-section.js";
import { modelSchema } from "./model-section.js";
import { flag, ignoredKey, integer, mapping, oneOf, section, text } from "./schema-helpers.js";
import { MIN_TOKEN_LENGTH } from "./token.js";

/**
 * A party's YAML, under IBM FL's key names. IBM FL parties also listened on a port of their
 * own (`connection`); Cohort parties only dial out, so that section is accepted and ignored.
 */

export const BACKENDS = ["auto", "tensorflow", "wasm", "cpu"] as const;
export type Backend = (typeof BACKENDS)[number];

export const RECONNECT_DEFAULTS = { initialDelayMs: 500, maxDelayMs: 10_000, maxAttempts: 0 } as const;
/** HTTP/2 keepalive towards the aggregator: a silently dead link is noticed within time + timeout. */
export const PARTY_KEEPALIVE_DEFAULTS = { timeMs: 30_000, timeoutMs: 10_000 } as const;

const tokenText = () => text(`a token of at least ${MIN_TOKEN_LENGTH} characters`, MIN_TOKEN_LENGTH);
const tokenEnvText = () => text("the name of an environment variable holding the token");

export const partySchema = section(
  {
    aggregator: section({
      ip: text("the aggregator's host name or IP address"),
      port: integer(1, 65535).default(DEFAULT_PORT),
      tls_config: section({
        enable: flag().default(false),
        ca: text("the path of a PEM CA bundle that signed the aggregator's certificate").optional(),
        ca_cert: text("the path of a PEM CA bundle that signed the aggregator's certificate (IBM FL's name for ca)").optional(),
        cert: text("the path of a PEM client certificate file").optional(),
        key: text("the path of a PEM client private key file").optional(),
      }).optional(),
      name: ignoredKey(),
      path: ignoredKey(),
    }),
    party: section({ name: text("the party's name") }).optional(),
    name: text("the party's name").optional(),
    token: tokenText().optional(),
    token_env: tokenEnvText().optional(),
    credentials: section({ token: tokenText().optional(), token_env: tokenEnvText().optional() }).optional(),
    data: section({
      name: text("a data handler name such as mnist, npz or csv"),
      // IBM FL's module path of the handler class (ignored), or a JS data handler module (.mjs/.js).
      path: text("IBM FL's handler module path, or a JS data handler module (.mjs/.js)").optional(),
      info: mapping("a mapping of data handler settings").default({}),
    }),
    model: modelSchema,
    local_training: section({
      epochs: localKeys.epochs().optional(),
      batch_size: localKeys.batch_size().optional(),
      steps_per_epoch: localKeys.steps_per_epoch().optional(),
      validation_split: localKeys.validation_split().optional(),
      lr: localKeys.lr().optional(),
      // IBM FL's local training handler class.
      name: ignoredKey(),
      path: ignoredKey(),
    }).optional(),
    backend: oneOf(BACKENDS).default("auto"),
    // wasm backend only: worker threads that each compute a slice of every batch's gradient.
    threads: integer(1, 256, "worker threads for the wasm backend; default: all cores").optional(),
    // Seeds local training's shuffling: reproducible runs (the data split has its own data.info.seed).
    seed: integer(0, 4294967295, "seeds the shuffling of local training").optional(),
    metrics: metricsSchema.optional(),
    reconnect: section({
      initial_delay_ms: integer(0, undefined, "milliseconds").default(RECONNECT_DEFAULTS.initialDelayMs),
      max_delay_ms: integer(0, undefined, "milliseconds").default(RECONNECT_DEFAULTS.maxDelayMs),
      max_attempts: integer(0, undefined, "0 retries forever").default(RECONNECT_DEFAULTS.maxAttempts),
    }).prefault({}),
    keepalive: section({
      time_ms: integer(1000, undefined, "milliseconds; at least the aggregator's min_ping_interval_ms").default(PARTY_KEEPALIVE_DEFAULTS.timeMs),
      timeout_ms: integer(1000, undefined, "milliseconds").default(PARTY_KEEPALIVE_DEFAULTS.timeoutMs),
    }).prefault({}),
    connection: ignoredKey(),
    protocol_handler: ignoredKey(),
    // IBM FL's privacy section (metrics: true lets the party report metrics): Cohort parties always report them.
    privacy: ignoredKey(),
    // IBM FL's metrics recorder: the aggregator writes metrics.jsonl.
    metrics_recorder: ignoredKey(),
  },
  "a mapping of party config keys",
);

export type RawPartyConfig = z.output<typeof partySchema>;
