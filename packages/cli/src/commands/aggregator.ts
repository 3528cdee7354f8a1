import { type AggregatorConfig, loadAggregatorConfig, redact } from "@cohort/config";
import { Aggregator, type AggregatorSettings, type InitialModel, type ModelExporter, type RunSummary } from "@cohort/aggregator";
import { AggregatorMetrics, createLogger, type Logger } from "@cohort/telemetry";
import { startOpsEndpoint } from "../ops-endpoint.js";
import { onShutdownSignal } from "../signals.js";
import { tuneHeapGrowth } from "@cohort/wire";

export interface AggregatorCommandOptions {
  config: string;
  pretty?: boolean;
  port?: number;
  outputDir?: string;
  metricsPort?: number;
}

export function aggregatorSettings(config: AggregatorConfig): AggregatorSettings {
  return {
    host: config.connection.host, port: config.connection.port, chunkSize: config.connection.chunkSize,
    algorithm: config.fusion.algorithm, rounds: config.rounds, numParties: config.numParties, percQuorum: config.percQuorum,
    maxTimeoutMs: config.maxTimeoutMs, deadlines: config.deadlines, keepalive: config.connection.keepalive, terminationAccuracy: config.terminationAccuracy, evaluateEvery: config.evaluateEvery, local: config.local,
    outputDir: config.outputDir, parties: config.parties, tls: config.connection.tls, updateEncoding: config.updateEncoding,
    ...(config.connection.limits === undefined ? {} : { limits: config.connection.limits }),
    ...(config.fusion.params === undefined ? {} : { fusionParams: config.fusion.params }),
    ...(config.fusion.maxUpdateNorm === undefined ? {} : { maxUpdateNorm: config.fusion.maxUpdateNorm, updateNormAction: config.fusion.onLargeUpdate }),
  };
}

/** Hooks that need TF.js (initial model from the config, export of the final model), loaded only when used. */
export interface ModelHooks {
  initialModel?: (config: AggregatorConfig, log: Logger) => Promise<InitialModel | undefined>;
  exportModel?: ModelExporter;
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
  const config = await loadAggregatorConfig(options.config, overrides);
  const log = createLogger({ service: "aggregator", pretty: options.pretty });
  log.info({ phase: "config", file: config.file, config: redact(config) }, "configuration loaded");
  for (const key of config.ignored) log.info({ phase: "config", key }, "IBM FL key accepted and ignored");
  const metrics = config.metrics ? new AggregatorMetrics({ processMetrics: true }) : undefined;
  // Ready once gRPC listens with its state loaded (initial model, resumed checkpoint): start() does both.
  let notReady: string | undefined = "loading the model and the run's state";
  const ops = await startOpsEndpoint(config.metrics, metrics, () => notReady, log);
  let aggregator: Aggregator;
  try {
    const initialModel = hooks.initialModel ? await hooks.initialModel(config, log) : undefined;
    aggregator = new Aggregator(aggregatorSettings(config), log, { initialModel, exportModel: hooks.exportModel, metrics });
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
