import { existsSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { aggregatorSchema, DEADLINE_PHASES, type RawAggregatorConfig } from "./aggregator-schema.js";
import { type FusionAlgorithm, type FusionSection, normalizeFusion } from "./fusion-section.js";
import { IssueList } from "./issue-list.js";
import { type PrivacySection, normalizePrivacy } from "./privacy-section.js";
import { caOf } from "./tls-ca.js";
import type { LocalHyperparams } from "./local-hyperparams.js";
import { mergeOverrides } from "./merge.js";
import type { MetricsEndpoint } from "./metrics-section.js";
import { normalizeModel, type ModelSection } from "./model-section.js";
import { resolveToken } from "./token.js";
import { validateCollecting } from "./validate.js";
import { isPlainObject } from "./key-path.js";
import { type DataSection, normalizeData } from "./data-section.js";
import type { ResolvedPath } from "./path-fallback.js";
import { readYamlFile } from "./yaml-file.js";

export type { FusionAlgorithm, FusionSection };

/** Server-side TLS; all paths absolute. */
export interface ServerTls {
  certFile: string;
  keyFile: string;
  /** When given, parties must present a client certificate signed by this CA. */
  caFile?: string;
  /** "certificate": under mutual TLS the client certificate's CN alone identifies the party (no token check). */
  identity?: "token" | "certificate";
}

export interface AllowedParty {
  name: string;
  token: string;
}

/** connection.info.limits, camel-cased: only the keys the config sets. */
export interface PeerLimitOverrides {
  uploadIdleMs?: number;
  maxRejections?: number;
  rejectionWindowMs?: number;
  rejectionCooldownMs?: number;
  handshakeTimeoutMs?: number;
  unauthenticatedIdleMs?: number;
  maxUnauthenticatedPerAddress?: number;
  maxUnauthenticatedConnections?: number;
}

/** The aggregator's config, validated, with defaults applied and paths absolute. */
export interface AggregatorConfig {
  /** The config file (absolute when loaded from disk). */
  file: string;
  /** Absolute directory that relative paths in the config resolve against. */
  baseDir: string;
  connection: {
    host: string; port: number; chunkSize: number; tls?: ServerTls; keepalive: { timeMs: number; timeoutMs: number; minPingIntervalMs: number };
    /** Peer limits the config overrides (connection.info.limits); absent keys keep the aggregator's defaults. */
    limits?: PeerLimitOverrides;
  };
  /** The fusion algorithm, its parameters and the update bounds (fusion-section.ts). */
  fusion: FusionSection;
  rounds: number;
  numParties: number;
  /** Fraction of numParties whose updates complete a round. */
  percQuorum: number;
  /** How long to wait for parties to join and for a round's updates. */
  maxTimeoutMs: number;
  /** Per-party deadline of each phase of a round (hyperparams.global.deadlines), defaults applied (max_timeout). */
  deadlines: { downloadMs: number; trainMs: number; uploadMs: number; evaluateMs: number };
  terminationAccuracy?: number;
  evaluateEvery: number;
  /** Secure aggregation (hyperparams.global.secure_aggregation); absent: off. Defaults are @cohort/secagg's. */
  secureAggregation?: { threshold?: number; clippingRange?: number; quantizationBits?: number; neighbours?: number };

  /** DP-FedAvg (hyperparams.global.differential_privacy); absent: off. */
  privacy?: PrivacySection;
  /** How parties send updates (hyperparams.global.compression; "none" is float32). */
  updateEncoding: "float32" | "float16" | "int8";
  local: LocalHyperparams;
  /** The initial global model, when the aggregator builds it itself. */
  model?: ModelSection;
  /** Absolute. */
  outputDir: string;
  /** The allow-list; empty under --insecure, where any party name joins. */
  parties: AllowedParty[];
  /** --insecure: no TLS and no allow-list (IBM FL's configs name no parties and no tokens). */
  insecure: boolean;
  /** Held-out data the aggregator evaluates each round's global model on (IBM FL's aggregator `data`). */
  data?: DataSection;
  /** Relative paths of the config and the folder each was resolved against. */
  paths: ResolvedPath[];
  /** HTTP /metrics, /healthz, /readyz; absent = off. */
  metrics?: MetricsEndpoint;
  /** Key paths accepted only for IBM FL compatibility and ignored, for the caller's info log. */
  ignored: string[];
}

const MS_PER_SECOND = 1000;

export interface AggregatorLoadOptions {
  /** `cohort aggregator --insecure`: plaintext and no allow-list; any party name joins. */
  insecure?: boolean;
  /** The working directory relative paths fall back to (default process.cwd()). */
  cwd?: string;
}

/** What an aggregator config without `parties` is told, naming both ways out. */
export const NO_ALLOW_LIST =
  "missing required key, expected the allow-list of parties ([{name, token}] or [{name, token_env}]), " +
  "or start with --insecure to run without TLS and without an allow-list (any party name joins; for trusted networks only)";

/** Validates an in-memory aggregator config (tests, the demo); `file` names it in messages. */
export function parseAggregatorConfig(raw: unknown, file: string, baseDir: string, options: AggregatorLoadOptions = {}): AggregatorConfig {
  return build(raw, file, file, resolve(baseDir), options);
}

/** Loads, validates and normalizes an aggregator YAML file; `overrides` use the YAML key names. */
export async function loadAggregatorConfig(file: string, overrides?: object, options: AggregatorLoadOptions = {}): Promise<AggregatorConfig> {
  const absolute = resolve(file);
  const raw = mergeOverrides(await readYamlFile(absolute, file), overrides);
  return build(raw, file, absolute, dirname(absolute), options);
}

function build(raw: unknown, label: string, file: string, baseDir: string, options: AggregatorLoadOptions): AggregatorConfig {
  const insecure = options.insecure === true;
  const validated = validateCollecting(aggregatorSchema, raw, label);
  if (!validated.ok) {
    const issues = new IssueList();
    issues.issues.push(...validated.issues);
    if (!insecure && isPlainObject(raw) && raw.parties === undefined) issues.add(["parties"], NO_ALLOW_LIST);
    issues.throwIfAny(label);
  }
  const parsed = (validated as { data: RawAggregatorConfig }).data;
  const issues = new IssueList();
  const ignored = ignoredKeys(parsed);
  const paths: ResolvedPath[] = [];

  if (parsed.parties === undefined && !insecure) issues.add(["parties"], NO_ALLOW_LIST);
  // --insecure admits any name: an allow-list in the file is not used (and said so in the log).
  if (insecure && parsed.parties !== undefined) ignored.push("parties");
  const parties = insecure ? [] : allowedParties(parsed, issues);
  const global = parsed.hyperparams.global;
  const numParties = partyCount(global, issues);
  if (!insecure && parsed.parties !== undefined && numParties !== undefined && numParties > parsed.parties.length) {
    issues.add(
      ["hyperparams", "global", global.num_parties !== undefined ? "num_parties" : "parties"],
      `got ${numParties}, expected at most ${parsed.parties.length} (the number of entries in parties)`,
    );
  }
  if (insecure && parsed.connection.info.tls_config?.enable === true) {
    issues.add(["connection", "info", "tls_config", "enable"], "got true with --insecure, expected TLS off (or leave --insecure out)");
  }
  // download, train and upload happen within a round's training phase, which max_timeout closes.
  for (const phase of ["download", "train", "upload"] as const) {
    const seconds = global.deadlines[phase];
    if (seconds !== undefined && seconds > global.max_timeout) {
      issues.add(["hyperparams", "global", "deadlines", phase], `got ${seconds}, expected at most max_timeout (${global.max_timeout} s), which closes the round's training phase`);
    }
  }
  const info = parsed.connection.info;
  const tls = insecure ? undefined : serverTls(info.tls_config, baseDir, issues);
  const fusion = normalizeFusion(parsed.fusion, (key, message) => issues.add(["fusion", key], message));
  byzantineThreshold(fusion, parsed.hyperparams.global.byzantine_threshold, issues);

  const privacy = global.differential_privacy === undefined ? undefined : normalizePrivacy(global.differential_privacy, fusion.algorithm, numParties, issues);
  const model = parsed.model === undefined ? undefined : normalizeModel(parsed.model, ["model"], baseDir, issues, ignored, paths, options.cwd);
  const data = parsed.data === undefined ? undefined : normalizeData(parsed.data, baseDir, issues, ignored, paths, "data", options.cwd);
  const { training, optimizer } = parsed.hyperparams.local;
  if (training.lr !== undefined && optimizer.lr !== undefined && training.lr !== optimizer.lr) {
    issues.add(["hyperparams", "local", "training", "lr"], `got ${training.lr} while hyperparams.local.optimizer.lr is ${optimizer.lr}, expected the learning rate given once`);
  }
  const threshold = global.secure_aggregation?.threshold;
  if (threshold !== undefined && threshold > 1 && !Number.isInteger(threshold)) {
    issues.add(["hyperparams", "global", "secure_aggregation", "threshold"], `got ${threshold}, expected a fraction in (0.5, 1] of the shares each party deals or a whole count >= 2`);
  }
  if (global.secure_aggregation !== undefined && global.differential_privacy !== undefined && global.differential_privacy.mode !== "distributed") {
    // Central DP clips each update at the aggregator, which secure aggregation keeps from seeing one.
    issues.add(["hyperparams", "global", "differential_privacy", "mode"], `got ${global.differential_privacy.mode} with secure_aggregation, expected distributed: central mode clips each update at the aggregator, which cannot see updates under secure aggregation (in distributed mode each party clips and adds its share of the noise before masking)`);
  }
  issues.throwIfAny(label);

  const local: LocalHyperparams = { epochs: training.epochs, batchSize: training.batch_size, validationSplit: training.validation_split };
  if (training.steps_per_epoch !== undefined) local.stepsPerEpoch = training.steps_per_epoch;
  const lr = optimizer.lr ?? training.lr;
  if (lr !== undefined) local.lr = lr;

  const config: AggregatorConfig = {
    file,
    baseDir,
    connection: {
      host: info.ip, port: info.port, chunkSize: info.chunk_size, ...(tls === undefined ? {} : { tls }),
      keepalive: { timeMs: info.keepalive.time_ms, timeoutMs: info.keepalive.timeout_ms, minPingIntervalMs: info.keepalive.min_ping_interval_ms },
      ...(info.limits === undefined ? {} : { limits: peerLimits(info.limits) }),
    },
    fusion,
    rounds: global.rounds,
    numParties: numParties!,
    percQuorum: global.perc_quorum,
    maxTimeoutMs: global.max_timeout * MS_PER_SECOND,
    deadlines: deadlinesMs(global.deadlines, global.max_timeout),
    evaluateEvery: global.evaluate_every,
    updateEncoding: global.compression === "none" ? "float32" : global.compression,
    local,
    outputDir: resolve(baseDir, parsed.output_dir),
    parties,
    insecure,
    paths,
    ignored,
  };
  const secure = global.secure_aggregation;
  if (secure !== undefined) {
    config.secureAggregation = {
      ...(secure.threshold === undefined ? {} : { threshold: secure.threshold }),
      ...(secure.clipping_range === undefined ? {} : { clippingRange: secure.clipping_range }),
      ...(secure.quantization_bits === undefined ? {} : { quantizationBits: secure.quantization_bits }),
      ...(secure.neighbours === undefined ? {} : { neighbours: secure.neighbours }),
    };
  }
  if (data !== undefined) config.data = data;
  if (privacy !== undefined) config.privacy = privacy;
  if (global.termination_accuracy !== undefined) config.terminationAccuracy = global.termination_accuracy;
  if (model !== undefined) config.model = model;
  if (parsed.metrics !== undefined) config.metrics = { host: parsed.metrics.host, port: parsed.metrics.port };
  return config;
}

function deadlinesMs(raw: RawAggregatorConfig["hyperparams"]["global"]["deadlines"], maxTimeout: number): AggregatorConfig["deadlines"] {
  const ms = Object.fromEntries(DEADLINE_PHASES.map((phase) => [phase, (raw[phase] ?? maxTimeout) * MS_PER_SECOND]));
  return { downloadMs: ms.download!, trainMs: ms.train!, uploadMs: ms.upload!, evaluateMs: ms.evaluate! };
}

type RawGlobal = RawAggregatorConfig["hyperparams"]["global"];

/** num_parties, or IBM FL's older name `parties`; one of them, and the same number when both are given. */
function partyCount(global: RawGlobal, issues: IssueList): number | undefined {
  const { num_parties: current, parties: older } = global;
  if (current !== undefined && older !== undefined && current !== older) {
    issues.add(["hyperparams", "global", "parties"], `got ${older} while num_parties is ${current}, expected the number of parties given once (parties is IBM FL's older name for num_parties)`);
  }
  const count = current ?? older;
  if (count === undefined) issues.missing(["hyperparams", "global", "num_parties"], "the number of parties to wait for, an integer >= 1 (IBM FL's older name parties is accepted too)");
  return count;
}


function allowedParties(parsed: RawAggregatorConfig, issues: IssueList): AllowedParty[] {
  const out: AllowedParty[] = [];
  const firstIndex = new Map<string, number>();
  (parsed.parties ?? []).forEach((entry, index) => {
    const earlier = firstIndex.get(entry.name);
    if (earlier !== undefined) {
      issues.add(["parties", index, "name"], `got "${entry.name}" again (also parties[${earlier}]), expected unique party names`);
    } else {
      firstIndex.set(entry.name, index);
    }
    const token = resolveToken(entry, ["parties", index], issues);
    if (token !== undefined) out.push({ name: entry.name, token });
  });
  return out;
}

type RawTls = RawAggregatorConfig["connection"]["info"]["tls_config"];

function serverTls(raw: RawTls, baseDir: string, issues: IssueList): ServerTls | undefined {
  if (raw === undefined || !raw.enable) return undefined;
  const path = ["connection", "info", "tls_config"];
  if (raw.cert === undefined || raw.key === undefined) {
    issues.add(path, "got enable: true without cert and key, expected both a certificate and a private key file");
    return undefined;
  }
  const tls: ServerTls = { certFile: resolve(baseDir, raw.cert), keyFile: resolve(baseDir, raw.key) };
  const ca = caOf(raw, path, issues);
  if (ca !== undefined) tls.caFile = resolve(baseDir, ca);
  if (raw.identity === "certificate") {
    if (ca === undefined) issues.add([...path, "identity"], "got certificate without ca, expected a ca to verify client certificates (mutual TLS)");
    tls.identity = "certificate";
  }
  // Checked here so a wrong path fails at start with the key's name, not at the first handshake.
  for (const [key, absolute] of [["cert", tls.certFile], ["key", tls.keyFile], ["ca", tls.caFile]] as const) {
    if (absolute !== undefined && !existsSync(absolute)) issues.add([...path, key], `file ${absolute} not found, expected an existing PEM file`);
  }
  return tls;
}

function ignoredKeys(parsed: RawAggregatorConfig): string[] {
  const ignored: string[] = [];
  for (const key of ["name", "path", "sync"] as const) {
    if (parsed.connection[key] !== undefined) ignored.push(`connection.${key}`);
  }
  if (parsed.fusion?.path !== undefined) ignored.push("fusion.path");
  if (parsed.aggregator !== undefined) ignored.push("aggregator");
  if (parsed.protocol_handler !== undefined) ignored.push("protocol_handler");
  if (parsed.metrics_recorder !== undefined) ignored.push("metrics_recorder");
  return ignored;
}

/** The limits a config sets, camel-cased, without the keys it leaves out. */
function peerLimits(raw: NonNullable<RawAggregatorConfig["connection"]["info"]["limits"]>): PeerLimitOverrides {
  const limits: PeerLimitOverrides = {};
  if (raw.upload_idle_ms !== undefined) limits.uploadIdleMs = raw.upload_idle_ms;
  if (raw.max_rejections !== undefined) limits.maxRejections = raw.max_rejections;
  if (raw.rejection_window_ms !== undefined) limits.rejectionWindowMs = raw.rejection_window_ms;
  if (raw.rejection_cooldown_ms !== undefined) limits.rejectionCooldownMs = raw.rejection_cooldown_ms;
  if (raw.handshake_timeout_ms !== undefined) limits.handshakeTimeoutMs = raw.handshake_timeout_ms;
  if (raw.unauthenticated_idle_ms !== undefined) limits.unauthenticatedIdleMs = raw.unauthenticated_idle_ms;
  if (raw.max_unauthenticated_per_address !== undefined) limits.maxUnauthenticatedPerAddress = raw.max_unauthenticated_per_address;
  if (raw.max_unauthenticated_connections !== undefined) limits.maxUnauthenticatedConnections = raw.max_unauthenticated_connections;
  return limits;
}

/** IBM FL's hyperparams.global.byzantine_threshold is Krum's f: fusion.byzantine when that is not given. */
function byzantineThreshold(fusion: FusionSection, threshold: number | undefined, issues: IssueList): void {
  if (threshold === undefined) return;
  const where = ["hyperparams", "global", "byzantine_threshold"];
  if (fusion.algorithm !== "krum" && fusion.algorithm !== "multi-krum") {
    issues.add(where, `${fusion.algorithm} takes no byzantine threshold; expected it with krum or multi-krum (KrumFusionHandler)`);
    return;
  }
  const given = fusion.params?.byzantine;
  if (given !== undefined && given !== threshold) {
    issues.add(where, `got ${threshold} while fusion.byzantine is ${given}, expected the number given once`);
    return;
  }
  fusion.params = { ...fusion.params, byzantine: threshold };
}
