export { DTYPES, type DType, type TypedArray, isDType, bytesPerElement, allocate, viewAs } from "./dtype.js";
export { elementCount, sameShape } from "./shape.js";
export { type TensorSpec, type Manifest, tensorByteLength, manifestByteLength, fingerprint, diffManifests } from "./manifest.js";
export { type NamedTensor, type WeightSet, manifestOf, zerosLike, tensor, tensorBytes } from "./weight-set.js";
