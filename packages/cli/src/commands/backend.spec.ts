import path from "node:path";
import { describe, expect, it } from "vitest";
import { tempDirSync } from "../../../../test/helpers/temp-dirs.js";
import { findTensorflowLibrary } from "../backend-install/tensorflow-library.js";
import { runBackendInstall } from "./backend.js";

/** Where TensorFlow is installed system-wide, the search without --from finds it: that case is not this test's. */
const systemTensorflow = ["/usr/local", "/usr"].find((prefix) => {
  try {
    return Boolean(findTensorflowLibrary(prefix));
  } catch {
    return false;
  }
});

describe("cohort backend install tensorflow", () => {
  it("with --from a folder without TensorFlow: says which layouts it looked for, before building anything", async () => {
    const lines: string[] = [];
    const empty = tempDirSync("cohort-backend-");
    await expect(runBackendInstall({ from: empty, print: (l) => lines.push(l) })).rejects.toThrow(
      new RegExp(`no TensorFlow C library in ${empty.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: expected a pip TensorFlow package folder`),
    );
    expect(lines).toEqual([]);
  });

  it.skipIf(systemTensorflow !== undefined)(`without --from, where no Python has tensorflow: names each place it looked and asks for --from${systemTensorflow ? ` (skipped: TensorFlow is installed under ${systemTensorflow})` : ""}`, async () => {
    const bin = tempDirSync("cohort-backend-bin-");
    // PATH without python3/python; COHORT_PYTHON a missing interpreter: only /usr/local and /usr remain.
    const env = { PATH: bin, COHORT_PYTHON: path.join(bin, "no-python") };
    await expect(runBackendInstall({ env, print: () => undefined })).rejects.toThrow(
      /no TensorFlow found \(.*no-python: not found; python3: not found; python: not found; \/usr\/local: none; \/usr: none\); pass --from DIR/,
    );
  });
});
