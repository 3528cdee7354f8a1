import { type NpyArray, listNpz, readNpz } from "@cohort/tensors";
import { isIntegerDType, toFloat32, toLabels } from "./arrays.js";
import { type DataContext, type DataHandler, type Dataset, type Split } from "./dataset.js";
import { DataError } from "./errors.js";
import { optionalBoolean, optionalChoice, optionalNumber, optionalString, resolvePath } from "./info.js";
import { readDataFile } from "./read-file.js";

/**
 * IBM FL's npz layout: one archive with x_train, y_train, x_test, y_test (info.npz_file), or a
 * train archive and a test archive (info.train_file / info.test_file) holding x_train/y_train
 * and x_test/y_test, or plainly x and y. info.layout "nchw" puts an added channel axis first
 * ([n, 1, h, w], for PyTorch models); arrays that already have channels are kept as stored.
 */

export interface NpzDefaults {
  /** Multiply integer-typed x by this when info.x_scale is absent (MNIST aliases: 1/255). */
  integerXScale?: number;
  /** Add a trailing channel axis to rank-3 x ([n, h, w] -> [n, h, w, 1]) unless info says otherwise. */
  channelAxisForImages?: boolean;
}

interface Archive { path: string; arrays: Map<string, NpyArray>; present: string[] }

async function openArchive(info: Record<string, unknown>, key: string, ctx: DataContext, where: string, wanted: string[]): Promise<Archive> {
  const written = optionalString(info, key, where)!;
  const path = resolvePath(ctx.baseDir, written);
  const bytes = await readDataFile(path, written, where);
  const present = listNpz(bytes, path).map((e) => e.key);
  return { path, arrays: readNpz(bytes, path, { only: wanted }), present };
}

/** The first of `names` present in the archive, or an error listing what is there. */
function pick(archive: Archive, names: string[], where: string): NpyArray {
  for (const name of names) {
    const array = archive.arrays.get(name);
    if (array) return array;
  }
  throw new DataError("data.array_missing",
    `${where}: ${archive.path} has no array ${names.map((n) => `'${n}'`).join(" or ")}; it holds ${archive.present.map((n) => `'${n}'`).join(", ") || "no arrays"}`);
}

type Layout = "nhwc" | "nchw";

function makeSplit(x: NpyArray, y: NpyArray, xName: string, yName: string, path: string, scale: number | undefined, channelAxis: boolean, layout: Layout): Split {
  const where = `${path}:${yName}`;
  if (x.shape.length < 1) throw new DataError("data.bad_array", `${path}:${xName} is a scalar; expected one row per example`);
  const labels = toLabels(y, where);
  if (x.shape[0] !== labels.yShape[0]) {
    throw new DataError("data.length_mismatch",
      `${path}: ${xName} has ${x.shape[0]} examples but ${yName} has ${labels.yShape[0]} labels; they must match`);
  }
  // A single new channel axis moves no data, wherever it goes.
  const [n, ...rest] = x.shape;
  const xShape = !channelAxis ? [...x.shape] : layout === "nchw" ? [n!, 1, ...rest] : [...x.shape, 1];
  return { x: toFloat32(x, scale), xShape, ...labels };
}

function classCount(splits: Split[]): number | undefined {
  let count = 0;
  for (const split of splits) {
    if (split.y instanceof Int32Array) for (const label of split.y) count = Math.max(count, label + 1);
    else if (split.yShape.length === 2) count = Math.max(count, split.yShape[1]);
    else return undefined; // regression targets
  }
  return count;
}

export async function loadNpz(info: Record<string, unknown>, ctx: DataContext, handlerName: string, defaults: NpzDefaults = {}): Promise<Dataset> {
  const where = `data handler ${handlerName}`;
  const xScaleInfo = optionalNumber(info, "x_scale", where);
  const channelInfo = optionalBoolean(info, "add_channel_axis", where);
  const layout = optionalChoice(info, "layout", where, ["nhwc", "nchw"] as const) ?? "nhwc";
  let trainArchive: Archive;
  let testArchive: Archive;
  if (info.npz_file !== undefined) {
    trainArchive = testArchive = await openArchive(info, "npz_file", ctx, where, ["x_train", "y_train", "x_test", "y_test"]);
  } else if (info.train_file !== undefined && info.test_file !== undefined) {
    trainArchive = await openArchive(info, "train_file", ctx, where, ["x_train", "y_train", "x", "y"]);
    testArchive = await openArchive(info, "test_file", ctx, where, ["x_test", "y_test", "x", "y"]);
  } else {
    throw new DataError("data.bad_info", `${where}: info needs npz_file (with x_train, y_train, x_test, y_test) or both train_file and test_file`);
  }
  // A single archive must use IBM FL's names; separate archives may also say plainly x and y.
  const plainNames = trainArchive !== testArchive;
  const build = (archive: Archive, part: "train" | "test") => {
    const x = pick(archive, plainNames ? [`x_${part}`, "x"] : [`x_${part}`], where);
    const y = pick(archive, plainNames ? [`y_${part}`, "y"] : [`y_${part}`], where);
    const xName = archive.arrays.has(`x_${part}`) ? `x_${part}` : "x";
    const yName = archive.arrays.has(`y_${part}`) ? `y_${part}` : "y";
    const scale = xScaleInfo ?? (isIntegerDType(x) ? defaults.integerXScale : undefined);
    const channelAxis = channelInfo ?? (defaults.channelAxisForImages === true && x.shape.length === 3);
    return makeSplit(x, y, xName, yName, archive.path, scale, channelAxis, layout);
  };
  const train = build(trainArchive, "train");
  const test = build(testArchive, "test");
  if (train.xShape.slice(1).join() !== test.xShape.slice(1).join()) {
    throw new DataError("data.shape_mismatch",
      `${where}: train examples have shape [${train.xShape.slice(1).join(", ")}] but test examples [${test.xShape.slice(1).join(", ")}]`);
  }
  const numClasses = classCount([train, test]);
  const source = trainArchive === testArchive ? trainArchive.path : `${trainArchive.path} + ${testArchive.path}`;
  return {
    train, test, numClasses,
    description: `npz ${source}: ${train.xShape[0]} train / ${test.xShape[0]} test examples of shape [${train.xShape.slice(1).join(", ")}]` +
      (numClasses !== undefined ? `, ${numClasses} classes` : ""),
  };
}

export const npzHandler: DataHandler = { name: "npz", load: (info, ctx) => loadNpz(info, ctx, "npz") };
