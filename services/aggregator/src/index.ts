export { Aggregator } from "./aggregator.js";
export type { AggregatorSettings, InitialModel, ModelExporter } from "./settings.js";
export { type PartyRoundMetrics, type RoundMetrics, type RunSummary, RunOutput } from "./run-output.js";
export { PartyAuthenticator } from "./auth.js";
export { Collector } from "./collector.js";
export { weightedMetrics } from "./weighted-metrics.js";
export { rejectionReason } from "./rejection-reason.js";
export { type PhaseDeadlines, resolveDeadlines } from "./deadlines.js";
export { type AggregatorLimits, DEFAULT_LIMITS, DEFAULT_SERVER_KEEPALIVE, type ServerKeepalive } from "./limits.js";
