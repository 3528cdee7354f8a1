import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { tempDirSync } from "../../../../test/helpers/temp-dirs.js";
import { checkTensorflowVersion, findTensorflowLibrary } from "./tensorflow-library.js";

function touch(root: string, ...files: string[]): void {
  for (const file of files) {
    mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
    writeFileSync(path.join(root, file), "");
  }
}

const HEADERS = ["include/tensorflow/c/c_api.h", "include/tensorflow/c/eager/c_api.h"];

/** A venv holding pip's tensorflow-cpu package, as the wheel lays it out (empty files stand in for the libraries). */
function pipVenv(version: string, omit: string[] = []): string {
  const venv = tempDirSync("cohort-tf-venv-");
  const pkg = "lib/python3.11/site-packages/tensorflow";
  touch(venv, ...["libtensorflow_cc.so.2", "libtensorflow_framework.so.2", ...HEADERS].filter((f) => !omit.includes(f)).map((f) => `${pkg}/${f}`));
  mkdirSync(path.join(venv, `lib/python3.11/site-packages/tensorflow_cpu-${version}.dist-info`));
  return venv;
}

describe("findTensorflowLibrary", () => {
  it("finds a pip package from the venv above it, with the version pip recorded", () => {
    const venv = pipVenv("2.21.0");
    const library = findTensorflowLibrary(venv);
    const pkg = path.join(venv, "lib/python3.11/site-packages/tensorflow");
    expect(library).toEqual({
      kind: "pip", root: pkg, includeDir: path.join(pkg, "include"), version: "2.21.0",
      cLibrary: path.join(pkg, "libtensorflow_cc.so.2"), frameworkLibrary: path.join(pkg, "libtensorflow_framework.so.2"),
    });
    expect(findTensorflowLibrary(pkg)).toEqual(library);
    expect(findTensorflowLibrary(path.dirname(pkg))).toEqual(library);
  });

  it("finds an extracted libtensorflow archive, its version from the library's file name", () => {
    const dir = tempDirSync("cohort-libtf-");
    touch(dir, "lib/libtensorflow.so.2", "lib/libtensorflow.so.2.9.1", "lib/libtensorflow_framework.so.2", ...HEADERS);
    expect(findTensorflowLibrary(dir)).toMatchObject({ kind: "libtensorflow", cLibrary: path.join(dir, "lib/libtensorflow.so.2"), version: "2.9.1" });
  });

  it("names the missing header when the library is there without it", () => {
    const venv = pipVenv("2.21.0", ["include/tensorflow/c/eager/c_api.h"]);
    expect(() => findTensorflowLibrary(venv)).toThrow(/libtensorflow_cc\.so\.2 is there but .*include\/tensorflow\/c\/eager\/c_api\.h is missing/);
  });

  it("says which layouts it expected in a folder without TensorFlow, and when the folder does not exist", () => {
    const empty = tempDirSync("cohort-no-tf-");
    expect(() => findTensorflowLibrary(empty)).toThrow(/no TensorFlow C library in .*expected a pip TensorFlow package folder .*or an extracted libtensorflow archive/);
    expect(() => findTensorflowLibrary(path.join(empty, "absent"))).toThrow(/--from .*absent: no such folder/);
  });

  it("refuses TensorFlow older than the C API the binding needs", () => {
    expect(() => checkTensorflowVersion(findTensorflowLibrary(pipVenv("2.8.4")))).toThrow(/TensorFlow 2\.8\.4 .* too old: .* 2\.9 or later/);
    expect(() => checkTensorflowVersion(findTensorflowLibrary(pipVenv("2.21.0")))).not.toThrow();
  });

  const venv = "/work/venv";
  it.skipIf(!existsSync(path.join(venv, "lib")))(`recognises a real tensorflow-cpu install${existsSync(path.join(venv, "lib")) ? "" : ` (skipped: no ${venv})`}`, () => {
    const library = findTensorflowLibrary(venv);
    expect(library.kind).toBe("pip");
    expect(library.version).toMatch(/^2\.\d+\.\d+$/);
  });
});
