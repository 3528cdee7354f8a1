import { readFile } from "node:fs/promises";
import { DataError } from "./errors.js";

/** Reads a data file, turning "not found" into an error naming both the path as written and as resolved. */
export async function readDataFile(resolved: string, asWritten: string, where: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(resolved));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const shown = resolved === asWritten ? resolved : `${asWritten} (resolved to ${resolved})`;
    if (code === "ENOENT") throw new DataError("data.file_missing", `${where}: data file ${shown} does not exist`);
    throw new DataError("data.file_missing", `${where}: cannot read data file ${shown}: ${(err as Error).message}`);
  }
}
