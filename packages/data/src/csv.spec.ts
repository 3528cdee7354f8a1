import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseCsv } from "./csv-parse.js";
import { DataError } from "./errors.js";
import { loadDataset } from "./registry.js";
import { tempDirSync } from "../../../test/helpers/temp-dirs.js";

const baseDir = tempDirSync("cohort-csv-");
const write = (name: string, text: string) => { writeFileSync(join(baseDir, name), text); return name; };
const load = (info: Record<string, unknown>) => loadDataset({ name: "csv", info }, { baseDir });

async function errorOf(promise: Promise<unknown>): Promise<DataError> {
  try { await promise; } catch (err) { return err as DataError; }
  throw new Error("expected a rejection");
}

/** n rows: features (i, 2i), label i % 3. */
const table = (n: number, header: boolean) =>
  (header ? "a,b,label\n" : "") + Array.from({ length: n }, (_, i) => `${i},${2 * i},${i % 3}`).join("\n") + "\n";

describe("parseCsv", () => {
  it("handles quotes, escaped quotes, embedded delimiters and newlines, CRLF and a BOM", () => {
    const { rows, lines } = parseCsv('\ufeffx,"y, z"\r\n"say ""hi""","two\nlines"\r\n\r\n3,4', ",", "t.csv");
    expect(rows).toEqual([["x", "y, z"], ['say "hi"', "two\nlines"], ["3", "4"]]);
    expect(lines).toEqual([1, 2, 5]);
  });
  it("refuses an unclosed quote, naming the line", () => {
    expect(() => parseCsv('a,b\n1,"2\n3', ",", "t.csv")).toThrowError(/t\.csv: line 2: a quoted field is never closed/);
  });
});

describe("csv handler", () => {
  it("detects a header, uses the last column as class ids, and splits test_split off", async () => {
    const d = await load({ file: write("h.csv", table(50, true)), test_split: 0.2 });
    expect(d.train.xShape).toEqual([40, 2]);
    expect(d.test.xShape).toEqual([10, 2]);
    expect(d.numClasses).toBe(3);
    // Every row keeps its own label and the two splits together are the whole table.
    const rows = [d.train, d.test].flatMap((s) => Array.from({ length: s.xShape[0] }, (_, r) => [s.x[2 * r], s.x[2 * r + 1], s.y[r]]));
    expect(rows.every(([a, b, y]) => b === 2 * a && y === a % 3)).toBe(true);
    expect(rows.map(([a]) => a).sort((p, q) => p - q)).toEqual(Array.from({ length: 50 }, (_, i) => i));
  });
  it("reads the same numbers with and without a header row", async () => {
    const withHeader = await load({ file: write("h2.csv", table(20, true)), test_split: 0 });
    const without = await load({ file: write("n2.csv", table(20, false)), test_split: 0 });
    expect(without.train.xShape).toEqual([20, 2]);
    expect([...without.train.x].sort()).toEqual([...withHeader.train.x].sort());
  });
  it("splits deterministically by shuffle_seed", async () => {
    const file = write("s.csv", table(30, false));
    const ids = async (seed: number) => [...(await load({ file, shuffle_seed: seed })).test.x];
    expect(await ids(1)).toEqual(await ids(1));
    expect(await ids(1)).not.toEqual(await ids(2));
  });
  it("takes the label column by name or index and codes text labels as sorted class ids", async () => {
    const file = write("iris.csv", 'species,len,wid\n"setosa",1.5,0.2\nvirginica,6.0,2.5\nsetosa,1.4,0.3\n');
    const d = await load({ file, label_column: "species", test_split: 0 });
    expect(d.classNames).toEqual(["setosa", "virginica"]);
    const byRow = Array.from({ length: 3 }, (_, r) => [d.train.x[2 * r], d.train.y[r]]);
    expect(byRow.sort()).toEqual([[1.4, 0], [1.5, 0], [6, 1]].map(([a, b]) => [Math.fround(a), b]));
    const byIndex = await load({ file, label_column: 0, test_split: 0 });
    expect(byIndex.numClasses).toBe(2);
  });
  it("treats non-integer numeric labels as regression targets", async () => {
    const d = await load({ file: write("r.csv", "1,0.5\n2,1.5\n3,2.25\n"), test_split: 0 });
    expect(d.train.y).toBeInstanceOf(Float32Array);
    expect(d.numClasses).toBeUndefined();
  });
  it("uses test_file when given, with one label coding for both", async () => {
    const d = await load({ train_file: write("tr.csv", "1,cat\n2,dog\n"), test_file: write("te.csv", "3,bird\n") });
    expect(d.classNames).toEqual(["bird", "cat", "dog"]);
    expect([...d.test.y]).toEqual([0]);
    expect(d.train.xShape[0]).toBe(2);
  });
  it("names file, line and column of a non-numeric feature", async () => {
    const err = await errorOf(load({ file: write("bad.csv", "a,b,label\n1,2,0\n3,oops,1\n") }));
    expect(err.code).toBe("data.bad_cell");
    expect(err.message).toMatch(/bad\.csv: line 3, column 2 \('b'\): "oops" is not a number/);
  });
  it("refuses rows with the wrong number of columns", async () => {
    const err = await errorOf(load({ file: write("ragged.csv", "1,2,0\n3,1\n") }));
    expect(err.message).toMatch(/ragged\.csv: line 2 has 2 columns; expected 3/);
  });
  it("lists the columns when label_column names none of them", async () => {
    const err = await errorOf(load({ file: write("h3.csv", table(5, true)), label_column: "y" }));
    expect(err.message).toMatch(/info\.label_column 'y' is not a column .*columns are a, b, label/);
  });
});
