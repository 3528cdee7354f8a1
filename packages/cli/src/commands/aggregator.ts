import { type AggregatorConfig, loadAggregatorConfig, redact } from "@cohort/config";
import { Aggregator, type AggregatorSettings, type GlobalEvaluator, type InitialModel, type ModelExporter, type RunSummary } from "@cohort/aggregator";
import { AggregatorMetrics, createLogger, type Logger } from "@cohort/telemetry";
import { startOpsEndpoint } from "../ops-endpoint.js";
import { onShutdownSignal } from "../signals.js";
import { tuneHeapGrowth } from "@cohort/wire";
import { loadingInput, logFatal } from "../exit-codes.js";

export interface AggregatorCommandOptions {
  config: string;
  pretty?: boolean;
  port?: number;
  outputDir?: string;
  metricsPort?: number;
  /** No TLS and no allow-list (any party name joins). */
  insecure?: boolean;

  /** Load a TLS private key other users may read (--allow-insecure-key-permissions). */
  allowInsecureKeyPermissions?: boolean;
}

export function aggregatorSettings(config: AggregatorConfig): AggregatorSettings {
  return {
    host: config.connection.host, port: config.connection.port, chunkSize: config.connection.chunkSize,
    algorithm: config.fusion.algorithm, negativeLoss: config.fusion.negativeLoss, rounds: config.rounds, numParties: config.numParties, percQuorum: config.percQuorum,
    maxTimeoutMs: config.maxTimeoutMs, deadlines: config.deadlines, keepalive: config.connection.keepalive, terminationAccuracy: config.terminationAccuracy, evaluateEvery: config.evaluateEvery, local: config.local,
    outputDir: config.outputDir, parties: config.parties, insecure: config.insecure, tls: config.connection.tls, updateEncoding: config.updateEncoding,
    ...(config.connection.limits === undefined ? {} : { limits: config.connection.limits }),
    ...(config.fusion.params === undefined ? {} : { fusionParams: config.fusion.params }),
    ...(config.privacy === undefined ? {} : { privacy: config.privacy }),
    ...(config.fusion.maxUpdateNorm === undefined ? {} : { maxUpdateNorm: config.fusion.maxUpdateNorm, updateNormAction: config.fusion.onLargeUpdate }),
    ...(config.secureAggregation === undefined ? {} : { secureAggregation: config.secureAggregation }),
  };
}

/** The IBM FL keys a config had that Cohort ignores, and where each relative path was found. */
export function logConfigNotes(log: Logger, config: Pick<AggregatorConfig, "ignored" | "paths">): void {
  for (const key of config.ignored) log.info({ phase: "config", key }, "IBM FL key accepted and ignored");
  for (const { key, written, path, against } of config.paths) {
    log.info({ phase: "config", key, written, path, resolved_against: against }, `${key}: ${written} resolved against the ${against}`);
  }
}

/** Hooks that need TF.js (initial model from the config, export of the final model), loaded only when used. */
export interface ModelHooks {
  initialModel?: (config: AggregatorConfig, log: Logger) => Promise<InitialModel | undefined>;
  exportModel?: ModelExporter;
  /** Evaluation of each round's global model on the config's `data` (absent: none). */
  evaluateGlobal?: (config: AggregatorConfig, log: Logger) => GlobalEvaluator | undefined;
}

/**
 * 1 when a round failed (a failed fold leaves the run resumable: a supervisor that restarts on
 * failure resumes it) or when no round completed; 0 otherwise (all rounds, termination accuracy,
 * or stopped by a signal after some rounds).
 */
export function aggregatorExitCode(summary: Pick<RunSummary, "rounds_completed" | "failed_round">, rounds: number): number {
  if (summary.failed_round !== undefined) return 1;
  return summary.rounds_completed > 0 || rounds === 0 ? 0 : 1;
}

/** `cohort aggregator --config aggregator.yml`: serves the federation until its last round. */
export async function runAggregatorCommand(options: AggregatorCommandOptions, hooks: ModelHooks = {}): Promise<number> {
  tuneHeapGrowth();
  const overrides: Record<string, unknown> = {};
  if (options.port !== undefined) overrides.connection = { info: { port: options.port } };
  if (options.outputDir !== undefined) overrides.output_dir = options.outputDir;
  if (options.metricsPort !== undefined) overrides.metrics = { port: options.metricsPort };
  const config = await loadAggregatorConfig(options.config, overrides, { insecure: options.insecure === true });
  const log = createLogger({ service: "aggregator", pretty: options.pretty });
  try {
    return await serve(config, log, hooks, options.allowInsecureKeyPermissions === true);
  } catch (error) {
    logFatal(log, error);
    throw error;
  }
}

async function serve(config: AggregatorConfig, log: Logger, hooks: ModelHooks, allowInsecureKeyPermissions: boolean): Promise<number> {
  log.info({ phase: "config", file: config.file, config: redact(config) }, "configuration loaded");
  logConfigNotes(log, config);
  const metrics = config.metrics ? new AggregatorMetrics({ processMetrics: true }) : undefined;
  // Ready once gRPC listens with its state loaded (initial model, resumed checkpoint): start() does both.
  let notReady: string | undefined = "loading the model and the run's state";
  const ops = await startOpsEndpoint(config.metrics, metrics, () => notReady, log);
  let aggregator: Aggregator;
  try {
    const initialModel = hooks.initialModel ? await loadingInput(`${config.file}: model (${config.model?.name})`, () => hooks.initialModel!(config, log)) : undefined;
    const evaluateGlobal = hooks.evaluateGlobal?.(config, log);
    if (config.data && !evaluateGlobal) log.warn({ phase: "config", key: "data" }, "the aggregator's data section is not used: this build evaluates no global model itself");
    aggregator = new Aggregator({ ...aggregatorSettings(config), allowInsecureKeyPermissions }, log, { initialModel, exportModel: hooks.exportModel, metrics, evaluateGlobal });
    await aggregator.start();
  } catch (error) {
    await ops?.close();
    throw error;
  }
  notReady = undefined;
  const release = onShutdownSignal((signal) => {
    log.warn({ phase: "signal", signal }, "stopping after the current phase");
    aggregator.requestStop();
  });
  try {
    return aggregatorExitCode(await aggregator.run(), config.rounds);
  } finally {
    release();
    await aggregator.close();
    await ops?.close();
  }
}
