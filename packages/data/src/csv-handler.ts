import { parseCsv } from "./csv-parse.js";
import { type DataContext, type DataHandler, type Dataset, type Split } from "./dataset.js";
import { DataError } from "./errors.js";
import { optionalBoolean, optionalNumber, optionalString, resolvePath } from "./info.js";
import { mulberry32 } from "./prng.js";
import { readDataFile } from "./read-file.js";
import { shuffleInPlace } from "./sampling.js";

/**
 * A numeric table: one example per row, one label column (by name or index, default the last),
 * every other column a float feature. Integer labels >= 0 are class ids, other numeric labels
 * regression targets, and a label column with any non-numeric value is categorical: its
 * distinct values, sorted, become class ids 0..k-1.
 */

const WHERE = "data handler csv";

interface Table {
  path: string;
  /** Column names from the header, or col0..colN-1. */
  columns: string[];
  hasHeader: boolean;
  rows: string[][];
  lines: number[];
}

const isNumber = (cell: string) => cell.trim() !== "" && Number.isFinite(Number(cell.trim()));

/**
 * Header auto-detection: the first row is a header when some column is non-numeric there and
 * numeric in the second row (so a text label column alone does not make a header), or when
 * the file has a single row that is entirely non-numeric.
 */
function looksLikeHeader(rows: string[][]): boolean {
  const [first, second] = rows;
  if (!first) return false;
  if (!second) return first.every((cell) => !isNumber(cell));
  return first.some((cell, i) => !isNumber(cell) && second[i] !== undefined && isNumber(second[i]));
}

async function readTable(info: Record<string, unknown>, key: string, ctx: DataContext): Promise<Table> {
  const written = optionalString(info, key, WHERE)!;
  const path = resolvePath(ctx.baseDir, written);
  const text = new TextDecoder().decode(await readDataFile(path, written, WHERE));
  const { rows, lines } = parseCsv(text, optionalString(info, "delimiter", WHERE) ?? ",", path);
  const hasHeader = optionalBoolean(info, "header", WHERE) ?? looksLikeHeader(rows);
  const width = rows[0]?.length ?? 0;
  const columns = hasHeader ? rows[0].map((c) => c.trim()) : Array.from({ length: width }, (_, i) => `col${i}`);
  const data = hasHeader ? rows.slice(1) : rows;
  const dataLines = hasHeader ? lines.slice(1) : lines;
  if (data.length === 0) throw new DataError("data.bad_array", `${WHERE}: ${path} has no data rows`);
  data.forEach((row, r) => {
    if (row.length !== width) {
      throw new DataError("data.bad_cell", `${WHERE}: ${path}: line ${dataLines[r]} has ${row.length} columns; expected ${width} like the first row`);
    }
  });
  return { path, columns, hasHeader, rows: data, lines: dataLines };
}

function labelIndex(info: Record<string, unknown>, table: Table): number {
  const spec = info.label_column;
  const width = table.columns.length;
  if (spec === undefined || spec === null) return width - 1;
  if (typeof spec === "string") {
    if (!table.hasHeader) {
      throw new DataError("data.bad_info", `${WHERE}: info.label_column '${spec}' is a name but ${table.path} has no header row; give a column index`);
    }
    const index = table.columns.indexOf(spec);
    if (index < 0) {
      throw new DataError("data.bad_info", `${WHERE}: info.label_column '${spec}' is not a column of ${table.path}; columns are ${table.columns.join(", ")}`);
    }
    return index;
  }
  const index = optionalNumber(info, "label_column", WHERE, { integer: true, min: -width, below: width })!;
  return index < 0 ? width + index : index;
}

function features(table: Table, label: number): Float32Array {
  const width = table.columns.length - 1;
  const out = new Float32Array(table.rows.length * width);
  table.rows.forEach((row, r) => {
    let k = 0;
    row.forEach((cell, c) => {
      if (c === label) return;
      if (!isNumber(cell)) {
        throw new DataError("data.bad_cell",
          `${WHERE}: ${table.path}: line ${table.lines[r]}, column ${c + 1} ('${table.columns[c]}'): ${JSON.stringify(cell)} is not a number; features must be numeric`);
      }
      out[r * width + k++] = Number(cell.trim());
    });
  });
  return out;
}

interface LabelCoding { kind: "class" | "regression" | "category"; numClasses?: number; classNames?: string[] }

function labelCoding(cells: string[]): LabelCoding {
  if (!cells.every(isNumber)) {
    const classNames = [...new Set(cells.map((c) => c.trim()))].sort();
    return { kind: "category", numClasses: classNames.length, classNames };
  }
  const values = cells.map((c) => Number(c.trim()));
  if (values.every((v) => Number.isInteger(v) && v >= 0 && v < 2 ** 31)) {
    return { kind: "class", numClasses: values.reduce((a, b) => Math.max(a, b), 0) + 1 };
  }
  return { kind: "regression" };
}

function encodeLabels(cells: string[], coding: LabelCoding): Int32Array | Float32Array {
  if (coding.kind === "regression") return Float32Array.from(cells, (c) => Number(c.trim()));
  if (coding.kind === "class") return Int32Array.from(cells, (c) => Number(c.trim()));
  const ids = new Map(coding.classNames!.map((name, i) => [name, i]));
  return Int32Array.from(cells, (c) => ids.get(c.trim())!);
}

function rowsOf(split: Split, indices: number[]): Split {
  const width = split.xShape[1];
  const x = new Float32Array(indices.length * width);
  const y = new (split.y.constructor as new (n: number) => Int32Array | Float32Array)(indices.length);
  indices.forEach((from, i) => {
    x.set(split.x.subarray(from * width, from * width + width), i * width);
    y[i] = split.y[from];
  });
  return { x, xShape: [indices.length, width], y, yShape: [indices.length] };
}

async function loadCsv(info: Record<string, unknown>, ctx: DataContext): Promise<Dataset> {
  const mainKey = info.file !== undefined ? "file" : info.train_file !== undefined ? "train_file" : undefined;
  if (!mainKey) throw new DataError("data.bad_info", `${WHERE}: info needs file (or train_file, with an optional test_file)`);
  const train = await readTable(info, mainKey, ctx);
  const test = info.test_file !== undefined ? await readTable(info, "test_file", ctx) : undefined;
  const label = labelIndex(info, train);
  if (test && test.columns.length !== train.columns.length) {
    throw new DataError("data.shape_mismatch", `${WHERE}: ${test.path} has ${test.columns.length} columns but ${train.path} has ${train.columns.length}`);
  }
  const labelCells = (t: Table) => t.rows.map((row) => row[label]);
  // One coding for both files, so a class id means the same class in train and test.
  const coding = labelCoding([...labelCells(train), ...(test ? labelCells(test) : [])]);
  const toSplit = (t: Table): Split => ({
    x: features(t, label), xShape: [t.rows.length, t.columns.length - 1],
    y: encodeLabels(labelCells(t), coding), yShape: [t.rows.length],
  });
  let trainSplit = toSplit(train);
  let testSplit: Split;
  if (test) {
    testSplit = toSplit(test);
  } else {
    const fraction = optionalNumber(info, "test_split", WHERE, { min: 0, below: 1 }) ?? 0.2;
    const seed = optionalNumber(info, "shuffle_seed", WHERE, { integer: true }) ?? 0;
    const order = shuffleInPlace(Array.from({ length: train.rows.length }, (_, i) => i), mulberry32(seed));
    const held = Math.round(fraction * order.length);
    testSplit = rowsOf(trainSplit, order.slice(0, held));
    trainSplit = rowsOf(trainSplit, order.slice(held));
  }
  const target = coding.kind === "regression" ? "regression target"
    : coding.kind === "category" ? `${coding.numClasses} classes (${coding.classNames!.join(", ")})` : `${coding.numClasses} classes`;
  return {
    train: trainSplit, test: testSplit, numClasses: coding.numClasses, classNames: coding.classNames,
    description: `csv ${train.path}${test ? ` + ${test.path}` : ""}: ${trainSplit.xShape[0]} train / ${testSplit.xShape[0]} test rows, ` +
      `${trainSplit.xShape[1]} features, label '${train.columns[label]}' as ${target}`,
  };
}

export const csvHandler: DataHandler = { name: "csv", load: loadCsv };
