/**
 * The per-sample input shape of a converted nn.Sequential. A pickled module holds no input
 * shape, and the layers alone often fit several (a leading Flatten takes any shape with the
 * right number of values; a 2x2 pool maps 28 and 29 to 14). So the shape comes, first found:
 * 1. from the spec's `input_shape`;
 * 2. from a hint the caller has: the party's data (x's shape per sample), the input file of
 *    `cohort model predict`, `--input-shape` of `cohort model inspect`, the topology the
 *    parties sent (aggregator export). Models never read data: the caller passes the shape;
 * 3. from the layers, only when exactly one shape fits; several fits are an error listing them.
 */
import { type PyObject } from "./unpickler.js";
import { isTorchTensor } from "./torch-file.js";
import { TorchModuleError, plan } from "./modules.js";

/** Per-sample shape in PyTorch terms; null: any size. */
export type Shape = (number | null)[];

/** A shape the caller knows from elsewhere, and where it came from (for error messages). */
export interface ShapeHint { shape: number[]; from: string }

export type ShapeOrigin = "spec" | "hint" | "layers";

/** Several shapes (or none) fit the layers; `candidates` lists those tried that fit. */
export class InputShapeError extends TorchModuleError {
  override name = "InputShapeError";
  override readonly code = "PYTORCH_INPUT_SHAPE";
  constructor(message: string, readonly candidates: Shape[] = []) {
    super(message);
  }
}

const text = (s: Shape) => `[${s.map((d) => d ?? "any").join(", ")}]`;
/** Listed in an ambiguity error; more are counted, not shown. */
const LISTED_CANDIDATES = 6;
/** Largest square image side tried when guessing (the plan is shape arithmetic only: cheap). */
const LARGEST_SIDE = 2048;
const SET_IT = "set input_shape in the model spec (per sample, channels first, e.g. input_shape: [1, 28, 28]); a party takes it from its data, `cohort model predict` from --input, `cohort model inspect` from --input-shape";

/** Modules that keep the shape they are given: they say nothing about the input. */
const SHAPELESS = /\.(ReLU|ReLU6|LeakyReLU|ELU|GELU|Tanh|Sigmoid|Hardtanh|Dropout|Dropout2d|Identity)$/;

const fits = (modules: [string, PyObject][], shape: Shape): boolean => {
  try { plan(modules, shape); return true; } catch { return false; }
};

function weight(m: PyObject, name: string): number[] | undefined {
  const t = (m.get("_parameters") as Map<string, unknown> | undefined)?.get(name) ?? (m.get("_buffers") as Map<string, unknown> | undefined)?.get(name);
  return isTorchTensor(t) ? t.shape : undefined;
}

/** Square images [C, n, n] that fit, smallest first; [C, null, null] alone when any size does. */
function imageCandidates(modules: [string, PyObject][], channels: number): Shape[] {
  if (fits(modules, [channels, null, null])) return [[channels, null, null]];
  const found: Shape[] = [];
  for (let n = 1; n <= LARGEST_SIDE; n++) if (fits(modules, [channels, n, n])) found.push([channels, n, n]);
  return found;
}

/** Shapes holding `n` values: flat, and the square images a user would feed a Flatten. */
function flatCandidates(modules: [string, PyObject][], n: number): Shape[] {
  const shapes: Shape[] = [[n]];
  for (const c of [0, 1, 3]) {
    const side = Math.round(Math.sqrt(c === 0 ? n : n / c));
    if (side > 1 && (c === 0 ? side * side : c * side * side) === n) shapes.push(c === 0 ? [side, side] : [c, side, side]);
  }
  return shapes.filter((s) => fits(modules, s));
}

/** Every shape the layers admit, as far as they tell (see the module comment). */
export function layerCandidates(modules: [string, PyObject][]): Shape[] {
  for (let i = 0; i < modules.length; i++) {
    const m = modules[i]![1];
    const type = m.cls.split(".").pop()!;
    if (SHAPELESS.test(m.cls)) continue;
    if (type === "Linear") return [[weight(m, "weight")![1]!]];
    if (type === "BatchNorm1d") return [[weight(m, "running_mean")?.[0] ?? weight(m, "weight")![0]!]];
    if (type === "Conv2d") return imageCandidates(modules, weight(m, "weight")![1]! * ((m.get("groups") as number | undefined) ?? 1));
    if (type === "BatchNorm2d") return imageCandidates(modules, (weight(m, "running_mean") ?? weight(m, "weight"))![0]!);
    if (type === "Flatten") {
      // The values Flatten hands on are what the next Linear takes (if nothing shapes them between).
      const next = modules.slice(i + 1).find(([, n]) => !SHAPELESS.test(n.cls));
      return next && next[1].cls.endsWith(".Linear") ? flatCandidates(modules, weight(next[1], "weight")![1]!) : [];
    }
    return [];
  }
  return [];
}

/** Why `shape` from `from` does not fit, with the hint a channels-last image needs. */
function hintError(modules: [string, PyObject][], hint: ShapeHint, reason: string): InputShapeError {
  const s = hint.shape;
  const channelsLast = s.length === 3 && fits(modules, [s[2]!, s[0]!, s[1]!]);
  const advice = channelsLast
    ? `; it looks channels-last: PyTorch models take [C, H, W] = [${s[2]}, ${s[0]}, ${s[1]}] (for MNIST data set data.info.layout: nchw)`
    : "";
  return new InputShapeError(`the input shape ${text(s)} from ${hint.from} does not fit the model: ${reason}${advice}`);
}

/** The input shape to build with, and where it came from (spec > hint > layers). */
export function resolveInputShape(modules: [string, PyObject][], sources: { spec?: Shape; hint?: ShapeHint }): { shape: Shape; origin: ShapeOrigin } {
  if (sources.spec) return { shape: sources.spec, origin: "spec" };
  if (sources.hint) {
    try { plan(modules, sources.hint.shape); } catch (e) { throw hintError(modules, sources.hint, (e as Error).message); }
    return { shape: sources.hint.shape, origin: "hint" };
  }
  const candidates = layerCandidates(modules);
  if (candidates.length === 1) return { shape: candidates[0]!, origin: "layers" };
  if (candidates.length === 0) throw new InputShapeError(`cannot tell the input shape from the layers; ${SET_IT}`);
  const listed = candidates.slice(0, LISTED_CANDIDATES).map(text).join(", ");
  const more = candidates.length > LISTED_CANDIDATES ? ` and ${candidates.length - LISTED_CANDIDATES} more` : "";
  throw new InputShapeError(`the input shape is ambiguous: the layers fit ${listed}${more}; ${SET_IT}`, candidates);
}
