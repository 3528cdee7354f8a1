export { type FusionAlgorithm, type FusionAlgorithmName, fusionAlgorithm } from "./algorithm.js";
export { WeightedSum, FOLD_SLICE_BYTES, MAX_FOLD_GROUP, type WeightedUpdate } from "./accumulator.js";
export { UpdateStaging, defaultStagingBudget, type StagedWriter, type StagedBytes, type StagingAllocator, type StagingRegion } from "./staging.js";
