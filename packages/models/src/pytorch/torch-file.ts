/**
 * Reads a `torch.save` file (the zip format of PyTorch >= 1.6, and the legacy format before it)
 * into plain data: modules become inert `PyObject`s, tensors become `TorchTensor`s copied out of
 * their storages with the saved size, stride and offset applied.
 */
import { float16ToNumber } from "@cohort/tensors";
import { unzipSync } from "fflate";
import { type GlobalHandler, PickleError, PyGlobal, unpickle } from "./unpickler.js";

export type TorchDType = "float32" | "float64" | "float16" | "bfloat16" | "int64" | "int32" | "int16" | "int8" | "uint8" | "bool";

/** A tensor read from the file: C-contiguous values (int64 as numbers), float types as Float32Array. */
export interface TorchTensor {
  readonly kind: "tensor";
  dtype: TorchDType;
  shape: number[];
  data: Float32Array | Float64Array | Int32Array | Uint8Array | Int8Array | Int16Array | number[];
}

interface Storage { dtype: TorchDType; bytes: Uint8Array }

const STORAGE_TYPES: Record<string, TorchDType> = {
  FloatStorage: "float32", DoubleStorage: "float64", HalfStorage: "float16", BFloat16Storage: "bfloat16",
  LongStorage: "int64", IntStorage: "int32", ShortStorage: "int16", CharStorage: "int8", ByteStorage: "uint8", BoolStorage: "bool",
};
const DTYPE_NAMES: Record<string, TorchDType> = {
  float32: "float32", float: "float32", float64: "float64", double: "float64", float16: "float16", half: "float16",
  bfloat16: "bfloat16", int64: "int64", long: "int64", int32: "int32", int: "int32", int16: "int16", int8: "int8", uint8: "uint8", bool: "bool",
};
const ITEM_SIZE: Record<TorchDType, number> = { float32: 4, float64: 8, float16: 2, bfloat16: 2, int64: 8, int32: 4, int16: 2, int8: 1, uint8: 1, bool: 1 };

export function isTorchTensor(v: unknown): v is TorchTensor {
  return typeof v === "object" && v !== null && (v as TorchTensor).kind === "tensor";
}

/** Element `i` of a storage, as a JS number. */
function reader(storage: Storage, littleEndian: boolean): (i: number) => number {
  const v = new DataView(storage.bytes.buffer, storage.bytes.byteOffset, storage.bytes.byteLength);
  switch (storage.dtype) {
    case "float32": return (i) => v.getFloat32(i * 4, littleEndian);
    case "float64": return (i) => v.getFloat64(i * 8, littleEndian);
    case "float16": return (i) => float16ToNumber(v.getUint16(i * 2, littleEndian));
    case "bfloat16": return (i) => { const b = new DataView(new ArrayBuffer(4)); b.setUint32(0, v.getUint16(i * 2, littleEndian) << 16); return b.getFloat32(0); };
    case "int64": return (i) => Number(v.getBigInt64(i * 8, littleEndian));
    case "int32": return (i) => v.getInt32(i * 4, littleEndian);
    case "int16": return (i) => v.getInt16(i * 2, littleEndian);
    case "int8": return (i) => v.getInt8(i);
    case "uint8": case "bool": return (i) => v.getUint8(i);
  }
}

function storageTypeOf(t: unknown, source: string): TorchDType {
  const name = t instanceof PyGlobal ? t.qualname.replace(/^torch\./, "") : typeof t === "string" ? t : "";
  const dtype = STORAGE_TYPES[name] ?? DTYPE_NAMES[name];
  if (!dtype) throw new PickleError(`${source}: unsupported storage type ${String(name || t)}`);
  return dtype;
}

/** torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...): honours strides and offset. */
function rebuildTensor(args: unknown[], littleEndian: boolean, source: string): TorchTensor {
  const [storage, offset, size, stride] = args as [Storage, number, number[], number[]];
  if (!storage?.bytes || !Array.isArray(size) || !Array.isArray(stride) || size.length !== stride.length) {
    throw new PickleError(`${source}: malformed tensor record`);
  }
  const numel = size.reduce((a, b) => a * b, 1);
  const capacity = storage.bytes.length / ITEM_SIZE[storage.dtype];
  let last = offset;
  size.forEach((n, d) => { if (n > 0) last += (n - 1) * stride[d]!; });
  if (numel > 0 && (offset < 0 || last >= capacity)) throw new PickleError(`${source}: tensor of size [${size}] stride [${stride}] offset ${offset} exceeds its storage of ${capacity} elements`);
  const get = reader(storage, littleEndian);
  const isFloat = storage.dtype.startsWith("float") || storage.dtype === "bfloat16";
  const out: TorchTensor["data"] = isFloat ? new Float32Array(numel) : storage.dtype === "int64" ? new Array<number>(numel) : new Int32Array(numel);
  // Walk the index space in C order, advancing the storage index by the stride of each dim.
  const index = new Array<number>(size.length).fill(0);
  let at = offset;
  for (let k = 0; k < numel; k++) {
    out[k] = get(at);
    for (let d = size.length - 1; d >= 0; d--) {
      index[d]!++;
      at += stride[d]!;
      if (index[d]! < size[d]!) break;
      at -= stride[d]! * size[d]!;
      index[d] = 0;
    }
  }
  return { kind: "tensor", dtype: isFloat ? "float32" : storage.dtype, shape: [...size], data: out };
}

/** The allow-list: inert nn.Module classes and the few torch functions a saved module needs. */
export function torchGlobals(littleEndian: () => boolean, source: string): (q: string) => GlobalHandler | undefined {
  return (qualname) => {
    // Module classes are only recorded (class name + state), never instantiated or run.
    if (/^torch\.nn\.modules\.[a-z_]+\.[A-Za-z0-9_]+$/.test(qualname)) return { kind: "class" };
    const storage = /^torch\.([A-Za-z0-9]+Storage)$/.exec(qualname);
    if (storage && STORAGE_TYPES[storage[1]!]) return { kind: "value", value: storage[1] };
    const dtype = /^torch\.([a-z0-9]+)$/.exec(qualname);
    if (dtype && DTYPE_NAMES[dtype[1]!]) return { kind: "value", value: dtype[1] };
    switch (qualname) {
      case "collections.OrderedDict":
        return { kind: "function", call: (args) => new Map((Array.isArray(args[0]) ? args[0] : []) as [unknown, unknown][]) };
      case "builtins.set": case "builtins.frozenset":
        return { kind: "function", call: (args) => new Set((args[0] ?? []) as unknown[]) };
      case "torch._utils._rebuild_tensor_v2": case "torch._utils._rebuild_tensor":
        return { kind: "function", call: (args) => rebuildTensor(args, littleEndian(), source) };
      case "torch._utils._rebuild_parameter": case "torch._utils._rebuild_parameter_with_state":
        return { kind: "function", call: (args) => args[0] };
      case "torch.Size":
        return { kind: "function", call: (args) => [...((args[0] ?? []) as number[])] };
      case "torch.nn.parameter.Parameter":
        return { kind: "function", call: (args) => args[0] };
      default:
        return undefined;
    }
  };
}

/** Loads a torch.save file's object; throws PickleError / PickleSecurityError naming `source`. */
export function loadTorchFile(bytes: Uint8Array, source: string): unknown {
  if (bytes[0] === 0x50 && bytes[1] === 0x4b) return loadZip(bytes, source);
  if (bytes[0] === 0x80) return loadLegacy(bytes, source);
  throw new PickleError(`${source}: not a torch.save file (neither a zip archive nor a legacy pickle)`);
}

function loadZip(bytes: Uint8Array, source: string): unknown {
  let files: Record<string, Uint8Array>;
  try { files = unzipSync(bytes); } catch (e) { throw new PickleError(`${source}: corrupt zip archive (${(e as Error).message})`); }
  const pkl = Object.keys(files).find((n) => /^[^/]+\/data\.pkl$/.test(n));
  if (!pkl) throw new PickleError(`${source}: zip archive has no <name>/data.pkl; not a torch.save file`);
  const prefix = pkl.slice(0, -"data.pkl".length);
  const order = files[`${prefix}byteorder`];
  // Files without a byteorder record predate it and were always written little-endian.
  const little = order ? new TextDecoder().decode(order).trim() !== "big" : true;
  const storages = new Map<string, Storage>();
  const persistentLoad = (pid: unknown) => {
    if (!Array.isArray(pid) || pid[0] !== "storage") throw new PickleError(`${source}: unknown persistent id`);
    const key = String(pid[2]);
    let s = storages.get(key);
    if (!s) {
      const data = files[`${prefix}data/${key}`];
      if (!data) throw new PickleError(`${source}: storage ${key} is missing from the archive`);
      s = { dtype: storageTypeOf(pid[1], source), bytes: data };
      storages.set(key, s);
    }
    return s;
  };
  return unpickle(files[pkl]!, { source, persistentLoad, resolveGlobal: torchGlobals(() => little, source) }).value;
}

/** Legacy: magic, protocol, sys_info, object (with storage ids), storage keys, then raw storages. */
function loadLegacy(bytes: Uint8Array, source: string): unknown {
  const noGlobals = { source, resolveGlobal: () => undefined };
  const magic = unpickle(bytes, noGlobals);
  if (typeof magic.value !== "bigint" || magic.value !== 0x1950a86a20f9469cfc6cn) throw new PickleError(`${source}: not a torch.save file (bad legacy magic number)`);
  const protocol = unpickle(bytes, noGlobals, magic.end);
  const sysInfo = unpickle(bytes, noGlobals, protocol.end);
  const info = sysInfo.value instanceof Map ? sysInfo.value : new Map();
  const little = info.get("little_endian") !== false;
  // The storages' bytes follow the object pickle, so the object is read twice: once to find
  // where it ends and which storages it names, once more with the storages filled in.
  const storages = new Map<string, Storage>();
  const persistentLoad = (pid: unknown) => {
    // ("module", cls, source file, source text): the class went through the allow-list as a GLOBAL.
    if (Array.isArray(pid) && pid[0] === "module" && pid[1] instanceof PyGlobal) return pid[1];
    if (!Array.isArray(pid) || pid[0] !== "storage") throw new PickleError(`${source}: unknown persistent id`);
    const [, type, key, , , view] = pid as [string, unknown, string, string, number, unknown];
    let s = storages.get(String(key));
    if (!s) { s = { dtype: storageTypeOf(type, source), bytes: new Uint8Array(0) }; storages.set(String(key), s); }
    if (Array.isArray(view)) { // a view into another storage: [view key, offset, size]
      const size = ITEM_SIZE[s.dtype];
      return { dtype: s.dtype, bytes: s.bytes.subarray((view[1] as number) * size, ((view[1] as number) + (view[2] as number)) * size) };
    }
    return s;
  };
  const globals = torchGlobals(() => little, source);
  const scan = unpickle(bytes, { source, persistentLoad, resolveGlobal: (q) => q.startsWith("torch._utils._rebuild_tensor") ? { kind: "function", call: () => null } : globals(q) }, sysInfo.end);
  const keys = unpickle(bytes, noGlobals, scan.end);
  if (!Array.isArray(keys.value)) throw new PickleError(`${source}: legacy storage key list missing`);
  let pos = keys.end;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (const key of keys.value) {
    const s = storages.get(String(key));
    if (!s || pos + 8 > bytes.length) throw new PickleError(`${source}: truncated legacy storage ${String(key)}`);
    const numel = Number(view.getBigInt64(pos, little));
    pos += 8;
    const n = numel * ITEM_SIZE[s.dtype];
    if (n < 0 || pos + n > bytes.length) throw new PickleError(`${source}: truncated legacy storage ${String(key)}`);
    s.bytes = bytes.subarray(pos, pos + n);
    pos += n;
  }
  return unpickle(bytes, { source, persistentLoad, resolveGlobal: globals }, sysInfo.end).value;
}
