import { open } from "node:fs/promises";
import type { StrategyState } from "@cohort/fusion";
import { type Manifest, elementCount } from "@cohort/tensors";
import { hashFile, writeWeightsFile } from "./checkpoint-file.js";

/** Bytes per stored value: the state is float64 in memory and on disk, so a resume steps exactly as before. */
const VALUE_BYTES = 8;

/** What a checkpoint's .json records of the strategy state written beside it. */
export interface StrategyStateMeta {
  strategy: string;
  /** The arrays in file order, each of `values` float64s. */
  arrays: { name: string; values: number }[];
  bytes: number;
  sha256: string;
}

/**
 * Writes a strategy's state (a server optimizer's moments) as its arrays' float64 values,
 * little-endian, one after the other, atomically (temporary file, fsync, rename), as the
 * weights are written.
 */
export async function writeStrategyState(path: string, state: StrategyState): Promise<StrategyStateMeta> {
  const slices = state.arrays.map(({ values }) => littleEndianBytes(values));
  const expected = slices.reduce((total, s) => total + s.byteLength, 0);
  const { size, sha256 } = await writeWeightsFile(path, slices, expected);
  return { strategy: state.strategy, arrays: state.arrays.map(({ name, values }) => ({ name, values: values.length })), bytes: size, sha256 };
}

/**
 * Reads back what writeStrategyState wrote. Sizes come from the model, not the file: every array
 * must hold one value per weight of `manifest`, and the file exactly those bytes with the recorded
 * SHA-256; anything else throws (the checkpoint is then unusable, as a damaged weights file is).
 */
export async function readStrategyState(path: string, meta: StrategyStateMeta, manifest: Manifest): Promise<StrategyState> {
  const weights = manifest.tensors.reduce((total, t) => total + elementCount(t.shape), 0);
  if (!Array.isArray(meta.arrays) || meta.arrays.length === 0 || meta.arrays.length > MAX_ARRAYS) throw new RangeError(`strategy state lists ${meta.arrays?.length} arrays, expected 1 to ${MAX_ARRAYS}`);
  for (const array of meta.arrays) {
    if (array.values !== weights) throw new RangeError(`strategy state ${array.name} has ${array.values} values, the model ${weights} weights`);
  }
  const expected = meta.arrays.length * weights * VALUE_BYTES;
  const { size, sha256 } = await hashFile(path);
  if (size !== expected) throw new RangeError(`strategy state file holds ${size} bytes, expected ${expected}`);
  if (sha256 !== meta.sha256) throw new RangeError("strategy state file's SHA-256 does not match the recorded one");
  const file = await open(path, "r");
  try {
    const arrays: StrategyState["arrays"] = [];
    for (let i = 0; i < meta.arrays.length; i++) {
      const bytes = new Uint8Array(weights * VALUE_BYTES);
      const { bytesRead } = await file.read(bytes, 0, bytes.byteLength, i * bytes.byteLength);
      if (bytesRead !== bytes.byteLength) throw new RangeError(`strategy state file ended early in ${meta.arrays[i].name}`);
      arrays.push({ name: String(meta.arrays[i].name), values: fromLittleEndian(bytes) });
    }
    return { strategy: String(meta.strategy), arrays };
  } finally {
    await file.close();
  }
}

/** No strategy keeps more than a few moments; a longer list in a .json is damage, not state. */
const MAX_ARRAYS = 8;

const LITTLE_ENDIAN = new Uint8Array(new Float64Array([1]).buffer)[7] === 0x3f;

function littleEndianBytes(values: Float64Array): Uint8Array {
  if (LITTLE_ENDIAN) return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  const bytes = new Uint8Array(values.length * VALUE_BYTES);
  const view = new DataView(bytes.buffer);
  values.forEach((v, i) => view.setFloat64(i * VALUE_BYTES, v, true));
  return bytes;
}

function fromLittleEndian(bytes: Uint8Array): Float64Array {
  if (LITTLE_ENDIAN) return new Float64Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / VALUE_BYTES);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return Float64Array.from({ length: bytes.byteLength / VALUE_BYTES }, (_, i) => view.getFloat64(i * VALUE_BYTES, true));
}
