import { existsSync } from "node:fs";
import { basename, dirname, extname, resolve } from "node:path";
import { IssueList } from "./issue-list.js";
import { caOf } from "./tls-ca.js";
import { toLocalOverrides, type LocalHyperparams } from "./local-hyperparams.js";
import { mergeOverrides } from "./merge.js";
import type { MetricsEndpoint } from "./metrics-section.js";
import { normalizeModel, type ModelSection } from "./model-section.js";
import { partySchema, type Backend, type RawPartyConfig } from "./party-schema.js";
import { MIN_TOKEN_LENGTH, resolveToken } from "./token.js";
import { validateCollecting } from "./validate.js";
import { isPlainObject } from "./key-path.js";
import { type DataSection, addPythonHandlerIssue, isPythonHandler, normalizeData } from "./data-section.js";
import type { ResolvedPath } from "./path-fallback.js";
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
  /** `info` goes to the data handler; a file key found only under the working directory is made absolute, others resolve against `baseDir`. */
  data: DataSection;
  model: ModelSection;
  /** Local settings that win over the hyperparameters the aggregator sends. */
  localOverrides: Partial<LocalHyperparams>;
  backend: Backend;
  /** Worker threads for data-parallel training on the wasm backend; absent = all cores. */
  threads?: number;
  /** Seeds the shuffling of every local epoch (reproducible runs); absent = unseeded. */
  seed?: number;
  reconnect: ReconnectPolicy;
  /** HTTP/2 keepalive pings towards the aggregator. */
  keepalive: { timeMs: number; timeoutMs: number };
  /** HTTP /metrics, /healthz, /readyz; absent = off. */
  metrics?: MetricsEndpoint;
  /** Key paths accepted only for IBM FL compatibility and ignored, for the caller's info log. */
  ignored: string[];
  /** Relative paths of the config and the folder each was resolved against (config folder, or the working directory). */
  paths: ResolvedPath[];
  /** --insecure: no TLS, no token; the name defaults to the config file's base name. */
  insecure: boolean;
}

export interface PartyLoadOptions {
  /** `cohort party --insecure`: plaintext, no token; IBM FL's party files name neither party nor token. */
  insecure?: boolean;
  /** The working directory relative paths fall back to (default process.cwd()). */
  cwd?: string;
}

/** Validates an in-memory party config (tests, the demo); `file` names it in messages. */
export function parsePartyConfig(raw: unknown, file: string, baseDir: string, options: PartyLoadOptions = {}): PartyConfig {
  return build(raw, file, file, resolve(baseDir), options);
}

/** Loads, validates and normalizes a party YAML file; `overrides` use the YAML key names. */
export async function loadPartyConfig(file: string, overrides?: object, options: PartyLoadOptions = {}): Promise<PartyConfig> {
  const absolute = resolve(file);
  const raw = mergeOverrides(await readYamlFile(absolute, file), overrides);
  return build(raw, file, absolute, dirname(absolute), options);
}

function build(raw: unknown, label: string, file: string, baseDir: string, options: PartyLoadOptions): PartyConfig {
  const insecure = options.insecure === true;
  const validated = validateCollecting(partySchema, raw, label);
  if (!validated.ok) {
    // The schema's problems and the identity checks on the raw document, in one error.
    const issues = new IssueList();
    issues.issues.push(...validated.issues);
    if (isPlainObject(raw)) rawIssues(raw, issues, insecure);
    issues.throwIfAny(label);
  }
  const parsed = (validated as { data: RawPartyConfig }).data;
  const issues = new IssueList();
  const ignored = ignoredKeys(parsed);
  const paths: ResolvedPath[] = [];

  const name = partyName(parsed, issues, insecure ? defaultName(file) : undefined);
  const token = insecure && !hasToken(parsed) ? "" : partyToken(parsed, issues);
  if (insecure && parsed.aggregator.tls_config?.enable === true) {
    issues.add(["aggregator", "tls_config", "enable"], "got true with --insecure, expected TLS off (or leave --insecure out)");
  }
  const tls = insecure ? undefined : clientTls(parsed.aggregator.tls_config, baseDir, issues);
  const data = normalizeData(parsed.data, baseDir, issues, ignored, paths, "data", options.cwd);
  const model = normalizeModel(parsed.model, ["model"], baseDir, issues, ignored, paths, options.cwd);
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
    data,
    model: model!,
    localOverrides: toLocalOverrides(parsed.local_training ?? {}),
    backend: parsed.backend,
    reconnect: { initialDelayMs: reconnect.initial_delay_ms, maxDelayMs: reconnect.max_delay_ms, maxAttempts: reconnect.max_attempts },
    keepalive: { timeMs: parsed.keepalive.time_ms, timeoutMs: parsed.keepalive.timeout_ms },
    ignored,
    paths,
    insecure,
  };
  if (tls !== undefined) config.tls = tls;
  if (parsed.threads !== undefined) config.threads = parsed.threads;
  if (parsed.seed !== undefined) config.seed = parsed.seed;
  if (parsed.metrics !== undefined) config.metrics = { host: parsed.metrics.host, port: parsed.metrics.port };
  return config;
}

/** Under --insecure a party without a name is known by its config file's base name (config_party0). */
function defaultName(file: string): string {
  return basename(file, extname(file));
}

function hasToken(parsed: Pick<RawPartyConfig, "token" | "token_env" | "credentials">): boolean {
  return parsed.token !== undefined || parsed.token_env !== undefined || parsed.credentials !== undefined;
}

/**
 * The name and token checks run on a document the schema refused, so a file missing them and
 * holding a bad key hears of all three at once. Keys the schema already complained about are skipped.
 */
function identityIssues(raw: Record<string, unknown>, issues: IssueList, insecure: boolean): void {
  const flagged = (key: string) => issues.issues.some((issue) => issue.path === key || issue.path.startsWith(`${key}.`));
  if (insecure) return;
  const party = isPlainObject(raw.party) ? raw.party : undefined;
  if (party?.name === undefined && raw.name === undefined && !flagged("party") && !flagged("name")) {
    issues.missing(["party", "name"], "the party's name (party.name, or a top-level name)");
  }
  if (!hasToken(raw) && !flagged("token")) {
    issues.missing(["token"], `a token of at least ${MIN_TOKEN_LENGTH} characters (or token_env naming an environment variable that holds it)`);
  }
}

/** Checks on the raw document that need no valid schema, so they join the schema's problems. */
function rawIssues(raw: Record<string, unknown>, issues: IssueList, insecure: boolean): void {
  identityIssues(raw, issues, insecure);
  const data = isPlainObject(raw.data) ? raw.data : undefined;
  if (isPythonHandler(data?.path) && !issues.issues.some((issue) => issue.path === "data.path")) addPythonHandlerIssue(data.path, data.name, issues);
}

/** IBM FL has no party name key; Cohort accepts `party.name` or a top-level `name`. */
function partyName(parsed: RawPartyConfig, issues: IssueList, fallback?: string): string | undefined {
  const nested = parsed.party?.name;
  if (nested !== undefined && parsed.name !== undefined && nested !== parsed.name) {
    issues.add(["name"], `got "${parsed.name}" while party.name is "${nested}", expected the name given once`);
    return undefined;
  }
  const name = nested ?? parsed.name ?? fallback;
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
  if (parsed.privacy !== undefined) ignored.push("privacy");
  if (parsed.metrics_recorder !== undefined) ignored.push("metrics_recorder");
  if (parsed.local_training?.name !== undefined) ignored.push("local_training.name");
  if (parsed.local_training?.path !== undefined) ignored.push("local_training.path");
  return ignored;
}
