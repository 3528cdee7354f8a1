/**
 * The fold's float32 kernels as a small WebAssembly SIMD module, assembled here byte by byte
 * (no toolchain: three functions of a few dozen instructions). Each loop step takes 8 float32
 * (two v128 loads), promotes them to four f64x2 (f64x2.promote_low_f32x4), multiplies by the
 * weight and adds them to the float64 sums: the same IEEE operations, in the same order per
 * element, as the JS loop `sums[j] += weight * values[j]`, so results are bit-identical.
 *
 *   fold(sums, src, groups, w): sums[0 .. 8*groups) += w * src[0 .. 8*groups)
 *   init(sums, src, groups, w): sums[0 .. 8*groups)  = w * src[..] + 0 (the first fold of a round: no read of the old sums)
 *   mean(dst, sums, groups, s): dst[0 .. 8*groups) = float32(sums[..] * s)
 *
 * Pointers are byte offsets into the imported memory; sums are float64, src and dst float32.
 */
const uleb = (n: number): number[] => {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return out;
};
const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];
const section = (id: number, bytes: number[]): number[] => [id, ...uleb(bytes.length), ...bytes];
const name = (s: string): number[] => vec([...s].map((c) => [c.charCodeAt(0)]));

const I32 = 0x7f, F64 = 0x7c, V128 = 0x7b;
// Parameters 0..3 (dst-or-sums, src, groups, scalar), locals 4 (splatted scalar) and 5 (loaded vector).
const DST = 0, SRC = 1, GROUPS = 2, SCALAR = 3, SPLAT = 4, LOADED = 5;
const get = (i: number) => [0x20, i];
const set = (i: number) => [0x21, i];
const tee = (i: number) => [0x22, i];
/** i32.const takes a signed LEB128: 64 is [0xc0, 0x00], not [0x40] (which reads as -64). */
const sleb = (n: number): number[] => {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && !(b & 0x40)) || (n === -1 && b & 0x40)) return [...out, b];
    out.push(b | 0x80);
  }
};
const i32const = (n: number) => [0x41, ...sleb(n)];
const simd = (op: number, ...immediates: number[]) => [0xfd, ...uleb(op), ...immediates];
const load = (offset: number) => simd(0x00, 0, ...uleb(offset)); // v128.load align=1
const store = (offset: number) => simd(0x0b, 0, ...uleb(offset)); // v128.store align=1
const PROMOTE_LOW = simd(0x5f); // f64x2.promote_low_f32x4
const DEMOTE_ZERO = simd(0x5e); // f32x4.demote_f64x2_zero
const F64X2_ADD = simd(0xf0);
const F64X2_SUB = simd(0xf1);
const F64X2_MUL = simd(0xf2);
const F64X2_SPLAT = simd(0x14);
const shuffle = (lanes: number[]) => simd(0x0d, ...lanes); // i8x16.shuffle
const HIGH_HALF = [8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7];
const BOTH_LOW_HALVES = [0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23];
const advance = (local: number, bytes: number) => [...get(local), ...i32const(bytes), 0x6a, ...set(local)];

/** `block; if groups == 0 break; loop { body; src += srcStep; dst += dstStep; if --groups != 0 continue } end` */
function loop(body: number[], srcStep: number, dstStep: number): number[] {
  return [
    0x02, 0x40, ...get(GROUPS), 0x45, 0x0d, 0,
    0x03, 0x40, ...body, ...advance(SRC, srcStep), ...advance(DST, dstStep),
    ...get(GROUPS), ...i32const(1), 0x6b, ...tee(GROUPS), 0x0d, 0, 0x0b,
    0x0b,
  ];
}

/** Four float32 at src+srcOffset into four float64 sums at dst+dstOffset: (sums +) w * promote(x). */
function foldFour(init: boolean, srcOffset: number, dstOffset: number): number[] {
  const half = (high: boolean, at: number) => [
    ...get(DST),
    ...(init ? [] : [...get(DST), ...load(at)]),
    ...get(LOADED), ...(high ? [...get(LOADED), ...shuffle(HIGH_HALF)] : []), ...PROMOTE_LOW,
    ...get(SPLAT), ...F64X2_MUL,
    // init adds +0 so that a -0 product is stored as +0, exactly as 0 + w * x after a fill(0).
    ...(init ? [...get(SPLAT), ...get(SPLAT), ...F64X2_SUB, ...F64X2_ADD] : F64X2_ADD),
    ...store(at),
  ];
  return [...get(SRC), ...load(srcOffset), ...set(LOADED), ...half(false, dstOffset), ...half(true, dstOffset + 16)];
}

function foldBody(init: boolean): number[] {
  return [...get(SCALAR), ...F64X2_SPLAT, ...set(SPLAT), ...loop([...foldFour(init, 0, 0), ...foldFour(init, 16, 32)], 32, 64)];
}

/** Four float32 at dst+offset from the four float64 sums at src+2*offset, times the scale, rounded to nearest. */
function meanFour(offset: number): number[] {
  const pair = (at: number) => [...get(SRC), ...load(at), ...get(SPLAT), ...F64X2_MUL, ...DEMOTE_ZERO];
  return [...get(DST), ...pair(2 * offset), ...pair(2 * offset + 16), ...shuffle(BOTH_LOW_HALVES), ...store(offset)];
}

const MEAN_BODY = [...get(SCALAR), ...F64X2_SPLAT, ...set(SPLAT), ...loop([...meanFour(0), ...meanFour(16)], 64, 32)];

function code(body: number[]): number[] {
  const bytes = [...vec([[2, V128]]), ...body, 0x0b];
  return [...uleb(bytes.length), ...bytes];
}

/** The module's bytes: imports `env.memory`, exports fold, init and mean (one type: (i32, i32, i32, f64) -> ()). */
export const FOLD_WASM = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
  ...section(1, vec([[0x60, ...vec([[I32], [I32], [I32], [F64]]), ...vec([])]])),
  ...section(2, vec([[...name("env"), ...name("memory"), 0x02, 0x00, 0x01]])),
  ...section(3, vec([[0], [0], [0]])),
  ...section(7, vec([[...name("fold"), 0x00, 0], [...name("init"), 0x00, 1], [...name("mean"), 0x00, 2]])),
  ...section(10, vec([code(foldBody(false)), code(foldBody(true)), code(MEAN_BODY)])),
]);

export interface FoldKernels {
  fold(sums: number, src: number, groups: number, weight: number): void;
  init(sums: number, src: number, groups: number, weight: number): void;
  mean(dst: number, sums: number, groups: number, scale: number): void;
}

/** The part of the WebAssembly JS API used here (this project's TypeScript libs do not declare it). */
interface WasmMemory { readonly buffer: ArrayBuffer }
interface WasmApi {
  Memory: new (descriptor: { initial: number }) => WasmMemory;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
  validate(bytes: Uint8Array): boolean;
}
const wasm = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;

let compiled: object | null | undefined;

/**
 * A zeroed WebAssembly memory of at least `bytes` (64 KiB pages) and the kernels on it;
 * undefined where WebAssembly SIMD is unavailable, or with COHORT_FOLD_SIMD=0 (the JS loops run then).
 */
export function kernelMemory(bytes: number): { memory: WasmMemory; kernels: FoldKernels } | undefined {
  if (compiled === undefined) {
    compiled = null;
    try {
      if (wasm && process.env.COHORT_FOLD_SIMD !== "0" && wasm.validate(FOLD_WASM)) compiled = new wasm.Module(FOLD_WASM);
    } catch {
      compiled = null;
    }
  }
  if (!compiled || !wasm) return undefined;
  const memory = new wasm.Memory({ initial: Math.ceil(bytes / 65536) });
  return { memory, kernels: new wasm.Instance(compiled, { env: { memory } }).exports as FoldKernels };
}
