export {
  tf, tfl, assertSingleTfjsCore,
  type Tensor, type Rank, type TensorInfo, type DataType, type NamedTensorMap, type LayersModel, type Sequential, type SymbolicTensor,
} from "./tfjs.js";
export { installChainedOps } from "./chained-ops.js";
export { Conv2D as TrainableConv2D, atrousConv2d } from "./atrous-conv.js";
export { selectBackend, installedNativeBinding, type BackendPreference, type SelectedBackend } from "./backend.js";
export { registerWasmTrainingKernels } from "./wasm-kernels/register.js";
export {
  loadLayersModelFromFile, saveLayersModelToDir, fileLoadHandler, dirSaveHandler, ModelFileError, MODEL_FILE, WEIGHTS_FILE,
} from "./model-files.js";
export { loadModelFromModule, ModelModuleError, DEFAULT_EXPORTS, type ModelFactory, type ModelModuleContext } from "./module-source.js";
export { modelManifest, getWeights, setWeights } from "./weights.js";
export { evaluateModel } from "./evaluate.js";
export { seededNoiseLayers, reseedNoise, noiseSeed, setNoiseSeeds, type SeededNoiseLayer } from "./noise-seeds.js";
export { compileFromOptions, makeOptimizer, setLearningRate, getLearningRate, setKerasGeneration, type CompileOptions } from "./compile.js";
export { createMnistCnn, createKerasMnistCnn, DEMO_LEARNING_RATE, type MnistCnnOptions } from "./mnist-cnn.js";
// Written alongside this package by the lead (not by the models helper); exported for the CLI.
export { loadModelFromSpec, knownModelSources, ModelSpecError, type ModelSpecSection, type ModelHints } from "./model-spec.js";
export { saveWeightsAsLayersModel } from "./layers-export.js";
export { loadKerasFromSpec, loadKerasModel, detectKerasFormat, KERAS_SPEC_KEYS, type KerasFormat } from "./keras-source.js";
export { loadKerasH5, loadKerasArchitectureAndWeights, readKerasWeightsH5, type KerasLoadOptions } from "./keras/h5-model.js";
export { loadKeras3 } from "./keras/keras3.js";
export { loadKerasSavedModel } from "./savedmodel/keras-savedmodel.js";
export { loadGraphSavedModel } from "./savedmodel/graph-savedmodel.js";
export { SavedModelGraph } from "./savedmodel/graph-layer.js";
export { OP_ALLOW_LIST } from "./savedmodel/inline.js";
export { saveSavedModel } from "./savedmodel/savedmodel-export.js";
export { saveKerasH5, saveKerasWeightsH5, kerasModelJson } from "./keras/h5-export.js";
export { saveKeras3Archive } from "./keras/keras3-export.js";
export { KerasModelError } from "./keras/errors.js";
export { KerasInferenceIdentity, KerasResizing } from "./keras/inference-layers.js";
export { loadTorchSequential, loadPytorchFromSpec, inputShapeOrigin, PYTORCH_SPEC_KEYS, type TorchLoadOptions } from "./pytorch/source.js";
export { InputShapeError, type ShapeHint, type ShapeOrigin } from "./pytorch/input-shape.js";
export { saveTorchStateDict, torchStateDict } from "./pytorch/state-dict.js";
export { loadTorchFile, type TorchTensor } from "./pytorch/torch-file.js";
export { PickleError, PickleSecurityError } from "./pytorch/unpickler.js";
export { torchOptimizer, torchOptimizerFromSpec, torchLoss, TORCH_OPTIMIZERS, TORCH_LOSSES } from "./pytorch/training.js";
export { RuleOptimizer, optimizerUpdate, type UpdateRule } from "./optimizers/rule-optimizer.js";
export { kerasOptimizer, kerasGeneration, KERAS_OPTIMIZERS, type KerasGeneration } from "./optimizers/keras.js";
export { torchOptimizerDefaults } from "./optimizers/torch.js";
export { loadOnnxAsLayers, loadOnnxFromSpec, ONNX_SPEC_KEYS } from "./onnx/source.js";
export { OnnxRuntimeModel } from "./onnx/ort.js";
export { saveOnnx, modelToOnnx, OnnxExportError, ONNX_EXPORT_LAYERS, ONNX_EXPORT_OPSET } from "./onnx/export.js";
export { compareOnnxWithTfjs, type OnnxCheck } from "./onnx/verify.js";
export { ParallelWasmTrainer, parallelUnsupported, defaultThreads, type ParallelBatch, type StepResult } from "./wasm-parallel/parallel-trainer.js";
export type { WorkerStepTimes } from "./wasm-parallel/protocol.js";
export { fitEpochParallel, type EpochData, type EpochOptions } from "./wasm-parallel/fit-epoch.js";
export { threadCpuMs, threadTimes, type ThreadTimes } from "./wasm-parallel/thread-cpu.js";
export { fitEpochGraph, type GraphEpochOptions } from "./native-graph/fit-graph-epoch.js";
export { GraphTrainingStep, type GraphStepResult } from "./native-graph/graph-step.js";
