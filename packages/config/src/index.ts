export { ConfigError, formatIssues, type ConfigErrorCode, type ConfigIssue } from "./config-error.js";
export {
  loadAggregatorConfig,
  parseAggregatorConfig,
  type AggregatorConfig,
  type AggregatorLoadOptions,
  NO_ALLOW_LIST,
  type AllowedParty,
  type FusionAlgorithm,
  type FusionSection,
  type ServerTls,
} from "./aggregator-config.js";
export {
  loadPartyConfig,
  parsePartyConfig,
  type ClientTls,
  type PartyConfig,
  type PartyLoadOptions,
  type ReconnectPolicy,
} from "./party-config.js";
export { DEFAULT_CHUNK_BYTES, DEFAULT_PORT, MAX_CHUNK_BYTES, MIN_CHUNK_BYTES } from "./aggregator-schema.js";
export { BACKENDS, type Backend } from "./party-schema.js";
export { LOCAL_DEFAULTS, type LocalHyperparams } from "./local-hyperparams.js";
export { parseModelSection, type ModelSection } from "./model-section.js";
export { redact, REDACTED } from "./redact.js";
export { DEFAULT_METRICS_HOST, type MetricsEndpoint } from "./metrics-section.js";
export { closestKey } from "./suggest.js";
export { type DataSection, PYTHON_HANDLER_HELP } from "./data-section.js";
export { type PathBase, type ResolvedPath, resolvePathWithFallback } from "./path-fallback.js";
export { type PrivacySection, DP_FUSION } from "./privacy-section.js";
