/**
 * A custom data handler: Cohort's counterpart of IBM FL's `MyDataHandler` Python class. Name it in
 * a party config as
 *
 *   data:
 *     name: MyDataHandler            # any name; it appears in logs and errors
 *     path: custom_data_handler.mjs  # this file (relative to the config's folder, else the working directory)
 *     info: {file: points.csv}       # handed to the function as `info`
 *
 * The default export (or `loadData`) receives {info, baseDir} and returns (or resolves to)
 * {train, test}, each {x: Float32Array, xShape: [n, ...per example], y: Int32Array of class ids
 * (or Float32Array: one-hot rows [n, classes], or regression targets), yShape}. Cohort checks the
 * arrays against each other and against the model before the party joins.
 *
 * This one reads a CSV of "feature1,feature2,label" lines and holds out every fifth row.
 */
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";

export default async function loadData({ info, baseDir }) {
  const text = await readFile(resolve(baseDir, String(info.file)), "utf8");
  const rows = text.trim().split("\n").map((line) => line.split(",").map(Number));
  const split = (keep) => {
    const chosen = rows.filter((_, i) => keep(i));
    const width = chosen[0].length - 1;
    return {
      x: Float32Array.from(chosen.flatMap((row) => row.slice(0, width))), xShape: [chosen.length, width],
      y: Int32Array.from(chosen.map((row) => row[width])), yShape: [chosen.length],
    };
  };
  return { train: split((i) => i % 5 !== 0), test: split((i) => i % 5 === 0) };
}
