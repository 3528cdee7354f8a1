export { DTYPES, type DType, type TypedArray, isDType, bytesPerElement, allocate, viewAs } from "./dtype.js";
export { elementCount, sameShape } from "./shape.js";
export { type TensorSpec, type Manifest, tensorByteLength, manifestByteLength, fingerprint, diffManifests } from "./manifest.js";
export { type NamedTensor, type WeightSet, manifestOf, zerosLike, tensor, tensorBytes } from "./weight-set.js";
export { packWeights, unpackWeights, tensorOffsets } from "./packing.js";
export { type NpyArray, type NpyErrorCode, NpyError, readNpy, writeNpy } from "./npy.js";
export { type NpzErrorCode, type NpzReadOptions, type NpzWriteOptions, type NpzEntryInfo, NpzError, readNpz, writeNpz, listNpz } from "./npz.js";
export { atomicWriteFile, appendLine } from "./atomic-file.js";
