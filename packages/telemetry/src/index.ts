export { ProgressLine, type ProgressLineOptions, type ProgressTarget, progressBar } from "./progress.js";
export { createLogger, type Logger, type LoggerOptions, REDACTED_PATHS } from "./logger.js";
export { AGGREGATOR_PHASES, type AggregatorPhase, AggregatorMetrics, PHASE_BUCKETS, type RoundTimings } from "./aggregator-metrics.js";
export { PartyMetrics, TRAIN_BUCKETS } from "./party-metrics.js";
export { OPS_PATHS, type OpsServer, type OpsServerOptions, type ReadinessCheck, startOpsServer } from "./ops-server.js";
export type { Registry } from "prom-client";
