import { existsSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { IssueList } from "./issue-list.js";
import { caOf } from "./tls-ca.js";
import { toLocalOverrides, type LocalHyperparams } from "./local-hyperparams.js";
import { mergeOverrides } from "./merge.js";
import type { MetricsEndpoint } from "./metrics-section.js";
import { normalizeModel, type ModelSection } from "./model-section.js";
import { partySchema, type Backend, type RawPartyConfig } from "./party-schema.js";
import { resolveToken } from "./token.js";
import { validate } from "./validate.js";
import { readYamlFile } from "./yaml-file.js";

/** Client-side TLS towards the aggregator; all paths absolute. */
export interface ClientTls {
  /** Trusts this CA instead of the system roots. */
  caFile?: string;
  /** Client certificate and key, for aggregators that require them (always both). */
  certFile?: string;
  keyFile?: string;
}

export interface ReconnectPolicy {
  initialDelayMs: number;
  maxDelayMs: number;
  /** 0 retries forever. */
  maxAttempts: number;
}

/** A party's config, validated, with defaults applied. */
export interface PartyConfig {
  file: string;
  /** Absolute directory that relative paths in the config resolve against. */
  baseDir: string;
  name: string;
  token: string;
  aggregator: { host: string; port: number };
  tls?: ClientTls;
  /** `info` is passed untouched to the data handler, which resolves its paths against `baseDir`. */
  data: { name: string; info: Record<string, unknown>; baseDir: string };
  model: ModelSection;
  /** Local settings that win over the hyperparameters the aggregator sends. */
  localOverrides: Partial<LocalHyperparams>;
  backend: Backend;
  /** Worker threads for data-parallel training on the wasm backend; absent = all cores. */
  threads?: number;
  reconnect: ReconnectPolicy;
  /** HTTP/2 keepalive pings towards the aggregator. */
  keepalive: { timeMs: number; timeoutMs: number };
  /** HTTP /metrics, /healthz, /readyz; absent = off. */
  metrics?: MetricsEndpoint;
  /** Key paths accepted only for IBM FL compatibility and ignored, for the caller's info log. */
  ignored: string[];
}

/** Validates an in-memory party config (tests, the demo); `file` names it in messages. */
export function parsePartyConfig(raw: unknown, file: string, baseDir: string): PartyConfig {
  return build(raw, file, file, resolve(baseDir));
}

/** Loads, validates and normalizes a party YAML file; `overrides` use the YAML key names. */
export async function loadPartyConfig(file: string, overrides?: object): Promise<PartyConfig> {
  const absolute = resolve(file);
  const raw = mergeOverrides(await readYamlFile(absolute, file), overrides);
  return build(raw, file, absolute, dirname(absolute));
}

function build(raw: unknown, label: string, file: string, baseDir: string): PartyConfig {
  const parsed = validate(partySchema, raw, label);
  const issues = new IssueList();
  const ignored = ignoredKeys(parsed);

  const name = partyName(parsed, issues);
  const token = partyToken(parsed, issues);
  const tls = clientTls(parsed.aggregator.tls_config, baseDir, issues);
  const model = normalizeModel(parsed.model, ["model"], baseDir, issues, ignored);
  const { reconnect } = parsed;
  if (reconnect.max_delay_ms < reconnect.initial_delay_ms) {
    issues.add(["reconnect", "max_delay_ms"], `got ${reconnect.max_delay_ms}, expected at least initial_delay_ms (${reconnect.initial_delay_ms})`);
  }
  issues.throwIfAny(label);

  const config: PartyConfig = {
    file,
    baseDir,
    name: name!,
    token: token!,
    aggregator: { host: parsed.aggregator.ip, port: parsed.aggregator.port },
    data: { name: parsed.data.name, info: parsed.data.info, baseDir },
    model: model!,
    localOverrides: toLocalOverrides(parsed.local_training ?? {}),
    backend: parsed.backend,
    reconnect: { initialDelayMs: reconnect.initial_delay_ms, maxDelayMs: reconnect.max_delay_ms, maxAttempts: reconnect.max_attempts },
    keepalive: { timeMs: parsed.keepalive.time_ms, timeoutMs: parsed.keepalive.timeout_ms },
    ignored,
  };
  if (tls !== undefined) config.tls = tls;
  if (parsed.threads !== undefined) config.threads = parsed.threads;
  if (parsed.metrics !== undefined) config.metrics = { host: parsed.metrics.host, port: parsed.metrics.port };
  return config;
}

/** IBM FL has no party name key; Cohort accepts `party.name` or a top-level `name`. */
function partyName(parsed: RawPartyConfig, issues: IssueList): string | undefined {
  const nested = parsed.party?.name;
  if (nested !== undefined && parsed.name !== undefined && nested !== parsed.name) {
    issues.add(["name"], `got "${parsed.name}" while party.name is "${nested}", expected the name given once`);
    return undefined;
  }
  const name = nested ?? parsed.name;
  if (name === undefined) issues.missing(["party", "name"], "the party's name (party.name, or a top-level name)");
  return name;
}

function partyToken(parsed: RawPartyConfig, issues: IssueList): string | undefined {
  const { credentials } = parsed;
  const topLevel = parsed.token !== undefined || parsed.token_env !== undefined;
  if (credentials !== undefined && topLevel) {
    issues.add(["credentials"], "got credentials alongside a top-level token or token_env, expected the token given once");
    return undefined;
  }
  return credentials !== undefined ? resolveToken(credentials, ["credentials"], issues) : resolveToken(parsed, [], issues);
}

type RawTls = RawPartyConfig["aggregator"]["tls_config"];

function clientTls(raw: RawTls, baseDir: string, issues: IssueList): ClientTls | undefined {
  if (raw === undefined || !raw.enable) return undefined;
  const path = ["aggregator", "tls_config"];
  if ((raw.cert === undefined) !== (raw.key === undefined)) {
    issues.add(path, "got only one of cert and key, expected both (client certificate and its private key) or neither");
  }
  const tls: ClientTls = {};
  const values = { ca: caOf(raw, path, issues), cert: raw.cert, key: raw.key };
  for (const [key, field] of [["ca", "caFile"], ["cert", "certFile"], ["key", "keyFile"]] as const) {
    const value = values[key];
    if (value === undefined) continue;
    const absolute = resolve(baseDir, value);
    if (!existsSync(absolute)) issues.add([...path, key], `file ${absolute} not found, expected an existing PEM file`);
    tls[field] = absolute;
  }
  return tls;
}

function ignoredKeys(parsed: RawPartyConfig): string[] {
  const ignored: string[] = [];
  if (parsed.aggregator.name !== undefined) ignored.push("aggregator.name");
  if (parsed.aggregator.path !== undefined) ignored.push("aggregator.path");
  if (parsed.connection !== undefined) ignored.push("connection");
  if (parsed.protocol_handler !== undefined) ignored.push("protocol_handler");
  if (parsed.data.path !== undefined) ignored.push("data.path");
  if (parsed.local_training?.name !== undefined) ignored.push("local_training.name");
  if (parsed.local_training?.path !== undefined) ignored.push("local_training.path");
  return ignored;
}
