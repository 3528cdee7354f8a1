export {
  tf, tfl, assertSingleTfjsCore,
  type Tensor, type Rank, type TensorInfo, type DataType, type NamedTensorMap, type LayersModel, type Sequential, type SymbolicTensor,
} from "./tfjs.js";
export { installChainedOps } from "./chained-ops.js";
export { selectBackend, type BackendPreference, type SelectedBackend } from "./backend.js";
export { registerWasmTrainingKernels } from "./wasm-kernels/register.js";
export {
  loadLayersModelFromFile, saveLayersModelToDir, fileLoadHandler, dirSaveHandler, ModelFileError, MODEL_FILE, WEIGHTS_FILE,
} from "./model-files.js";
export { loadModelFromModule, ModelModuleError, DEFAULT_EXPORTS, type ModelFactory, type ModelModuleContext } from "./module-source.js";
export { modelManifest, getWeights, setWeights } from "./weights.js";
export { compileFromOptions, makeOptimizer, setLearningRate, getLearningRate, type CompileOptions } from "./compile.js";
export { createMnistCnn, createKerasMnistCnn, DEMO_LEARNING_RATE, type MnistCnnOptions } from "./mnist-cnn.js";
// Written alongside this package by the lead (not by the models helper); exported for the CLI.
export { loadModelFromSpec, knownModelSources, ModelSpecError, type ModelSpecSection } from "./model-spec.js";
export { saveWeightsAsLayersModel } from "./layers-export.js";
