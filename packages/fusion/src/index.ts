export { WeightedSum, FOLD_SLICE_BYTES, MAX_FOLD_GROUP, type WeightedUpdate } from "./accumulator.js";
export { UpdateStaging, defaultStagingBudget, type StagedWriter, type StagedBytes, type StagingAllocator, type StagingRegion } from "./staging.js";
export type { FusionStrategy, TrainConfig, ModelSlices, StagedUpdate, RoundInput, StrategyState } from "./strategy.js";
export { secureAggregationRefusal } from "./strategy.js";
export { FUSION_NAMES, type FusionName, type FusionSettings, createStrategy, DEFAULT_TRIM_BETA, DEFAULT_BYZANTINE, DEFAULT_PROXIMAL_MU } from "./strategies/index.js";
export { SERVER_OPTIMIZER_DEFAULTS, type ServerOptimizerParams } from "./strategies/server-optimizer.js";
export { updateNorm, ClippedUpdate } from "./update-norm.js";
