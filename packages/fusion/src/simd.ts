/**
 * The fold's float32 kernels as a small WebAssembly SIMD module, assembled here byte by byte
 * (no toolchain: a few functions of a few dozen instructions). Each loop step takes 8 float32
 * (two v128 loads) of each input, promotes them to four f64x2 (f64x2.promote_low_f32x4),
 * multiplies by the input's weight and adds them to the float64 sums: the same IEEE operations,
 * in the same order per element, as the JS loop `sums[j] += weight * values[j]` run once per
 * input, so results are bit-identical to folding the inputs one at a time.
 *
 *   foldK(sums, src1 .. srcK, groups, w1 .. wK): sums[i] = (..((sums[i] + w1 * src1[i]) + w2 * src2[i]) ..) + wK * srcK[i]
 *   initK(sums, src1 .. srcK, groups, w1 .. wK): the same from 0 instead of sums[i] (a round's first fold: no read of the old sums)
 *   mean(dst, sums, groups, s):                  dst[i] = float32(sums[i] * s)
 *
 * for i in [0, 8 * groups) and K = 1 .. MAX_FOLD_GROUP. Folding K inputs in one pass reads and
 * writes the float64 sums once instead of K times: 4K + 16 bytes of memory traffic per element
 * instead of 20K (the point of the aggregator's fold queue). Pointers are byte offsets into the
 * imported memory; sums are float64, src and dst float32.
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
/** Most inputs one kernel call folds. */
export const MAX_FOLD_GROUP = 4;
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
const F64_ZERO = [0x44, 0, 0, 0, 0, 0, 0, 0, 0]; // f64.const +0
const simd = (op: number, ...immediates: number[]) => [0xfd, ...uleb(op), ...immediates];
const load = (offset: number) => simd(0x00, 0, ...uleb(offset)); // v128.load align=1
const store = (offset: number) => simd(0x0b, 0, ...uleb(offset)); // v128.store align=1
const PROMOTE_LOW = simd(0x5f); // f64x2.promote_low_f32x4
const DEMOTE_ZERO = simd(0x5e); // f32x4.demote_f64x2_zero
const F64X2_ADD = simd(0xf0);
const F64X2_MUL = simd(0xf2);
const F64X2_SPLAT = simd(0x14);
const shuffle = (lanes: number[]) => simd(0x0d, ...lanes); // i8x16.shuffle
const HIGH_HALF = [8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7];
const BOTH_LOW_HALVES = [0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23];
const advance = (local: number, bytes: number) => [...get(local), ...i32const(bytes), 0x6a, ...set(local)];

/** `block; if groups == 0 break; loop { body; each pointer += its step; if --groups != 0 continue } end` */
function loop(groups: number, body: number[], steps: [local: number, bytes: number][]): number[] {
  return [
    0x02, 0x40, ...get(groups), 0x45, 0x0d, 0,
    0x03, 0x40, ...body, ...steps.flatMap(([local, bytes]) => advance(local, bytes)),
    ...get(groups), ...i32const(1), 0x6b, ...tee(groups), 0x0d, 0, 0x0b,
    0x0b,
  ];
}

/**
 * Local indices of a K-input fold: parameters sums, src 1..K, groups, weight 1..K; then the
 * v128 locals: splatted weight 1..K, loaded vector 1..K, zero.
 */
function foldLocals(k: number) {
  const range = (from: number) => Array.from({ length: k }, (_, j) => from + j);
  return { sums: 0, src: range(1), groups: 1 + k, weight: range(2 + k), splat: range(2 + 2 * k), loaded: range(2 + 3 * k), zero: 2 + 4 * k };
}

function foldBody(k: number, init: boolean): number[] {
  const l = foldLocals(k);
  /** Four float32 of each input at src+srcOffset into the four float64 sums at sums+sumsOffset. */
  const four = (srcOffset: number, sumsOffset: number) => {
    const half = (high: boolean, at: number) => [
      ...get(l.sums),
      // init starts from +0, so that a -0 product is stored as +0, exactly as 0 + w * x after a fill(0).
      ...(init ? get(l.zero) : [...get(l.sums), ...load(at)]),
      ...l.loaded.flatMap((loaded, j) => [
        ...get(loaded), ...(high ? [...get(loaded), ...shuffle(HIGH_HALF)] : []), ...PROMOTE_LOW,
        ...get(l.splat[j]), ...F64X2_MUL, ...F64X2_ADD,
      ]),
      ...store(at),
    ];
    return [
      ...l.src.flatMap((src, j) => [...get(src), ...load(srcOffset), ...set(l.loaded[j])]),
      ...half(false, sumsOffset), ...half(true, sumsOffset + 16),
    ];
  };
  return [
    ...l.weight.flatMap((w, j) => [...get(w), ...F64X2_SPLAT, ...set(l.splat[j])]),
    ...(init ? [...F64_ZERO, ...F64X2_SPLAT, ...set(l.zero)] : []),
    ...loop(l.groups, [...four(0, 0), ...four(16, 32)], [...l.src.map((src): [number, number] => [src, 32]), [l.sums, 64]]),
  ];
}

// mean: parameters 0..3 (dst, sums, groups, scale), local 4 (splatted scale).
const MEAN = { dst: 0, sums: 1, groups: 2, scale: 3, splat: 4 };

/** Four float32 at dst+offset from the four float64 sums at sums+2*offset, times the scale, rounded to nearest. */
function meanFour(offset: number): number[] {
  const pair = (at: number) => [...get(MEAN.sums), ...load(at), ...get(MEAN.splat), ...F64X2_MUL, ...DEMOTE_ZERO];
  return [...get(MEAN.dst), ...pair(2 * offset), ...pair(2 * offset + 16), ...shuffle(BOTH_LOW_HALVES), ...store(offset)];
}

const MEAN_BODY = [...get(MEAN.scale), ...F64X2_SPLAT, ...set(MEAN.splat), ...loop(MEAN.groups, [...meanFour(0), ...meanFour(16)], [[MEAN.sums, 64], [MEAN.dst, 32]])];

function code(v128Locals: number, body: number[]): number[] {
  const bytes = [...vec([[...uleb(v128Locals), V128]]), ...body, 0x0b];
  return [...uleb(bytes.length), ...bytes];
}

const GROUP_SIZES = Array.from({ length: MAX_FOLD_GROUP }, (_, i) => i + 1);
/** Type k - 1: (i32 sums, i32 x k, i32 groups, f64 x k) -> (); mean shares type 0 (i32, i32, i32, f64). */
const foldType = (k: number) => [0x60, ...vec([[I32], ...Array(k).fill([I32]), [I32], ...Array(k).fill([F64])]), ...vec([])];

/** The module's bytes: imports `env.memory`, exports fold1, init1 .. foldN, initN (N = MAX_FOLD_GROUP) and mean. */
export const FOLD_WASM = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
  ...section(1, vec(GROUP_SIZES.map(foldType))),
  ...section(2, vec([[...name("env"), ...name("memory"), 0x02, 0x00, 0x01]])),
  ...section(3, vec([...GROUP_SIZES.flatMap((k) => [[k - 1], [k - 1]]), [0]])),
  ...section(7, vec([
    ...GROUP_SIZES.flatMap((k, i) => [[...name(`fold${k}`), 0x00, 2 * i], [...name(`init${k}`), 0x00, 2 * i + 1]]),
    [...name("mean"), 0x00, 2 * MAX_FOLD_GROUP],
  ])),
  ...section(10, vec([
    ...GROUP_SIZES.flatMap((k) => [code(2 * k, foldBody(k, false)), code(2 * k + 1, foldBody(k, true))]),
    code(1, MEAN_BODY),
  ])),
]);

/** A K-input kernel: (sums, src 1..K, groups, weight 1..K), all as numbers. */
export type FoldKernel = (...args: number[]) => void;

export interface FoldKernels {
  /** fold[k] and init[k] take k inputs (k = 1 .. MAX_FOLD_GROUP; index 0 is unused). */
  fold: FoldKernel[];
  init: FoldKernel[];
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
  const exports = new wasm.Instance(compiled, { env: { memory } }).exports as Record<string, FoldKernel>;
  const kernels: FoldKernels = {
    fold: [() => undefined, ...GROUP_SIZES.map((k) => exports[`fold${k}`])],
    init: [() => undefined, ...GROUP_SIZES.map((k) => exports[`init${k}`])],
    mean: exports.mean as FoldKernels["mean"],
  };
  return { memory, kernels };
}
