import { describe, expect, it } from "vitest";
import { ConfigError } from "@cohort/config";
import { FileIOError } from "@cohort/tensors";
import { EXIT_FAILED, EXIT_INPUT, InputError, exitCodeFor, loadingInput } from "./exit-codes.js";

const systemError = (code: string) => Object.assign(new Error(`${code}: failed, write`), { code, syscall: "write", errno: -28 });

describe("exitCodeFor", () => {
  it("2 for what a person must fix: config errors, Cohort's input errors (string codes), errors that say so", () => {
    expect(exitCodeFor(new ConfigError("CONFIG_INVALID", "a.yml", [{ path: "rounds", message: "expected a number" }]))).toBe(EXIT_INPUT);
    expect(exitCodeFor(Object.assign(new Error("x.h5: not an HDF5 file"), { code: "KERAS_MODEL_INVALID" }))).toBe(EXIT_INPUT);
    expect(exitCodeFor(new InputError("bad"))).toBe(EXIT_INPUT);
  });

  it("1 for what a restart may repair: disk and other system errors, errors without a code (a grpc status code is a number)", () => {
    expect(exitCodeFor(systemError("ENOSPC"))).toBe(EXIT_FAILED);
    expect(exitCodeFor(new FileIOError("/run/metrics.jsonl", "append to", systemError("ENOSPC")))).toBe(EXIT_FAILED);
    expect(exitCodeFor(Object.assign(new Error("14 UNAVAILABLE: No connection established"), { code: 14 }))).toBe(EXIT_FAILED);
    expect(exitCodeFor(new TypeError("bug"))).toBe(EXIT_FAILED);
  });
});

describe("loadingInput", () => {
  it("makes any failure while loading an input an input error (exit 2) that says what was loaded", async () => {
    const error = await loadingInput("p0.yml: model (PytorchFLModel)", () => { throw new Error("model.pt: unsupported or refused opcode 0x93"); }).catch((e: unknown) => e);
    expect(exitCodeFor(error)).toBe(EXIT_INPUT);
    expect((error as Error).message).toBe("p0.yml: model (PytorchFLModel): model.pt: unsupported or refused opcode 0x93");
    // A missing file read while loading is the input's fault too, not a disk fault.
    expect(exitCodeFor(await loadingInput("data", () => { throw systemError("ENOENT"); }).catch((e: unknown) => e))).toBe(EXIT_INPUT);
    expect(await loadingInput("data", () => 7)).toBe(7);
  });
});
