import { type PartyConfig, loadPartyConfig, redact } from "@cohort/config";
import { loadDataset } from "@cohort/data";
import { defaultThreads, inputShapeOrigin, optimizerUpdate, selectBackend } from "@cohort/models";
import { type BatchProgress, Party, PartyRefusedError, TfjsLearner, loadModelForData } from "@cohort/party";
import { type Logger, PartyMetrics, ProgressLine, createLogger, progressBar } from "@cohort/telemetry";
import { startOpsEndpoint } from "../ops-endpoint.js";
import { logConfigNotes } from "./aggregator.js";
import { onShutdownSignal } from "../signals.js";
import { PARTY_HEAP_GROWING_PERCENT, tuneHeapGrowth } from "@cohort/wire";
import { loadingInput, logFatal } from "../exit-codes.js";

export interface PartyCommandOptions {
  config: string;
  pretty?: boolean;
  port?: number;
  metricsPort?: number;
  /** Overrides the config's `seed` (local training's shuffling and dropout masks). */
  seed?: number;
  /** No TLS and no token, for an aggregator run with --insecure. */
  insecure?: boolean;

  /** Load a TLS private key other users may read (--allow-insecure-key-permissions). */
  allowInsecureKeyPermissions?: boolean;
}

/**
 * `cohort party --config party.yml`: loads data and model, checks they fit each other before
 * joining, then follows the aggregator's instructions until it says stop.
 */
export async function runPartyCommand(options: PartyCommandOptions): Promise<number> {
  tuneHeapGrowth(PARTY_HEAP_GROWING_PERCENT);
  const overrides: Record<string, unknown> = {};
  if (options.port !== undefined) overrides.aggregator = { port: options.port };
  if (options.metricsPort !== undefined) overrides.metrics = { port: options.metricsPort };
  if (options.seed !== undefined) overrides.seed = options.seed;
  const config = await loadPartyConfig(options.config, overrides, { insecure: options.insecure === true });
  // A live line for local training on stderr when it is a terminal; plain log lines otherwise.
  const progress = new ProgressLine(process.stderr);
  const log = createLogger({ service: "party", pretty: options.pretty, base: { party: config.name }, progress });
  log.info({ phase: "config", file: config.file, config: redact(config) }, "configuration loaded");
  logConfigNotes(log, config);
  if (config.insecure) log.warn({ phase: "config", insecure: true, name: config.name }, `--insecure: no TLS and no token; joining as ${config.name}`);

  const metrics = config.metrics ? new PartyMetrics({ processMetrics: true }) : undefined;
  // Ready = data and model loaded and checked against each other. Joining is not required: a
  // party serves no traffic, and an unreachable aggregator is shown by cohort_party_joined.
  let notReady: string | undefined = "loading data and model";
  const ops = await startOpsEndpoint(config.metrics, metrics, () => notReady, log);
  try {
    return await runParty({ ...config, allowInsecureKeyPermissions: options.allowInsecureKeyPermissions === true }, log, metrics, () => { notReady = undefined; }, progress.enabled ? trainingProgress(progress) : undefined);
  } catch (error) {
    logFatal(log, error);
    throw error;
  } finally {
    progress.end();
    await ops?.close();
  }
}

async function runParty(config: PartyConfig & { allowInsecureKeyPermissions: boolean }, log: Logger, metrics: PartyMetrics | undefined, onReady: () => void, onBatch?: BatchProgress): Promise<number> {
  const backend = await selectBackend(config.backend);
  log.info({ phase: "backend", backend: backend.name, detail: backend.detail }, `training backend: ${backend.name}`);
  metrics?.setBackend(backend.name);
  const started = Date.now();
  const dataset = await loadingInput(`${config.file}: data (${config.data.name})`, () => loadDataset(config.data, { baseDir: config.data.baseDir }));
  // An nn.Sequential carries no input shape: the data's, per example, is the one it must take.
  const model = await loadingInput(`${config.file}: model (${config.model.name})`, () => loadModelForData({ ...config.model, configFile: config.file }, dataset, `${config.file}: data ${config.data.name}`));
  const shapeOrigin = inputShapeOrigin(model);
  const learner = await loadingInput(`${config.file}: data and model`, () => new TfjsLearner(model, dataset, backend.name, `${config.file}: data`, onBatch, { seed: config.seed }));
  // Cohort's optimizers step through TensorFlow's fused training ops on the tensorflow backend (one
  // per variable: ResourceApplyAdam, ...) where one computes their rule, and in one pass over the
  // weights on the wasm backend where their rule has that form; other optimizers run eagerly.
  const update = backend.name === "tensorflow" || backend.name === "wasm" ? optimizerUpdate(model.optimizer) : undefined;
  if (update) {
    const how = update.fused ? "one fused TensorFlow op per variable" : update.elementwise ? "one elementwise pass per variable over the wasm heap" : "eager ops";
    log.info({ phase: "backend", optimizer: update.optimizer, fused_update: update.fused, elementwise_update: update.elementwise }, `optimizer ${update.optimizer}: ${how}`);
  }
  if (backend.name === "tensorflow") {
    const { enabled, reason } = learner.graphTraining;
    if (enabled) log.info({ phase: "backend", graph_training: true }, "training through one TensorFlow graph per batch");
    else log.info({ phase: "backend", graph_training: false, reason }, `training with eager ops (model.fit): ${reason}`);
  }
  if (backend.name === "wasm") {
    const wanted = config.threads ?? defaultThreads();
    const { threads, reason, optimizerOnMainThread } = await learner.useWasmThreads(wanted);
    const why = reason ? ` (${reason})` : "";
    if (threads < wanted) log.warn({ phase: "backend", threads, wanted, reason }, `wasm training on one thread instead of ${wanted}${why}`);
    else log.info({ phase: "backend", threads }, `wasm training on ${threads} thread${threads === 1 ? "" : "s"}${why}`);
    // The workers step the optimizer on their stretches of the weights unless it needs whole variables.
    if (optimizerOnMainThread) log.info({ phase: "backend", optimizer_on_main_thread: optimizerOnMainThread }, `the optimizer steps on the main thread after the workers (${optimizerOnMainThread})`);
  }
  log.info({
    phase: "ready", ms: Date.now() - started, data: dataset.description, train_examples: learner.numTrainExamples,
    test_examples: dataset.test.xShape[0], tensors: learner.manifest.tensors.length,
    input_shape: model.inputs[0]?.shape.slice(1), ...(shapeOrigin ? { input_shape_from: shapeOrigin === "hint" ? "data" : shapeOrigin } : {}),
  }, "data and model loaded");
  onReady();

  const party = new Party({
    name: config.name, token: config.token, host: config.aggregator.host, port: config.aggregator.port,
    reconnect: config.reconnect, keepalive: config.keepalive, localOverrides: config.localOverrides, tls: config.tls,
    allowInsecureKeyPermissions: config.allowInsecureKeyPermissions,
  }, learner, log, { metrics });
  if (!config.tls) log.warn({ phase: "connect" }, "plaintext gRPC to the aggregator (tls_config not enabled): use only on loopback or a trusted network");
  const release = onShutdownSignal((signal) => {
    log.warn({ phase: "signal", signal }, "leaving the federation");
    party.close();
  });
  try {
    const reason = await party.run();
    log.info({ phase: "done", reason }, "party finished");
    return 0;
  } catch (error) {
    if (error instanceof PartyRefusedError) {
      log.error({ phase: "join", code: error.code, reason: error.message }, "the aggregator refused this party");
      return 2;
    }
    throw error;
  } finally {
    release();
    party.close();
    await learner.close();
  }
}

/** "local training  epoch 1/2 [#####...] 340/625  loss 0.2310  12 s", cleared when training ends. */
export function trainingProgress(progress: ProgressLine): BatchProgress {
  let started = Date.now();
  return ({ epoch, epochs, batch, batches, loss }) => {
    if (epoch === 1 && batch === 1) started = Date.now();
    const last = epoch === epochs && batch >= batches;
    if (last) return progress.end();
    const seconds = ((Date.now() - started) / 1000).toFixed(0);
    const lossText = loss === undefined ? "" : `  loss ${loss.toFixed(4)}`;
    progress.update(`local training  epoch ${epoch}/${epochs} ${progressBar(batch / batches)} ${batch}/${batches}${lossText}  ${seconds} s`);
  };
}
