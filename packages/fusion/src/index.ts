export { type FusionAlgorithm, type FusionAlgorithmName, fusionAlgorithm } from "./algorithm.js";
export { WeightedSum, FOLD_SLICE_BYTES } from "./accumulator.js";
export { UpdateStaging, defaultStagingBudget, type StagedWriter, type StagedBytes } from "./staging.js";
