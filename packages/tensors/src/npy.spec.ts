import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { type NpyArray, NpyError, readNpy, writeNpy } from "./npy.js";

const fixtures = new URL("../test-fixtures/", import.meta.url);
const fixture = (name: string) => new Uint8Array(readFileSync(new URL(name, fixtures)));
interface Expected { dtype: string; shape: number[]; values: (number | string)[] }
const expected: Record<string, Expected> = JSON.parse(readFileSync(new URL("expected.json", fixtures), "utf8"));

const valuesOf = (a: NpyArray) => Array.from(a.data as ArrayLike<number | bigint>, (v) => (typeof v === "bigint" ? v.toString() : v));

/** Builds a .npy by hand so malformed headers can be tested. */
function npyWith(header: string, dataBytes = 0, version = 1): Uint8Array {
  const preamble = version === 1 ? 10 : 12;
  const text = header + "\n";
  const out = new Uint8Array(preamble + text.length + dataBytes);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]);
  const view = new DataView(out.buffer);
  if (version === 1) view.setUint16(8, text.length, true);
  else view.setUint32(8, text.length, true);
  for (let i = 0; i < text.length; i++) out[preamble + i] = text.charCodeAt(i);
  return out;
}

function codeOf(fn: () => unknown): string | undefined {
  try { fn(); } catch (err) { return (err as NpyError).code; }
  return undefined;
}

describe("readNpy against numpy-written files", () => {
  const names = Object.keys(expected).filter((n) => n.endsWith(".npy"));
  it("has fixtures for every dtype, both byte orders, fortran order and versions 1-3", () => {
    expect(new Set(names.map((n) => expected[n].dtype)).size).toBe(11);
    expect(names.some((n) => n.includes("_be"))).toBe(true);
    expect(names.filter((n) => n.startsWith("fortran")).length).toBe(2);
  });
  it.each(names)("%s matches what numpy reads", (name) => {
    const array = readNpy(fixture(name), name);
    expect(array.dtype).toBe(expected[name].dtype);
    expect(array.shape).toEqual(expected[name].shape);
    expect(valuesOf(array)).toEqual(expected[name].values);
  });
});

describe("readNpy refusals", () => {
  it("refuses pickled object arrays, naming the file", () => {
    expect(() => readNpy(fixture("object.npy"), "data/object.npy")).toThrowError(
      /data\/object\.npy: pickled object arrays are not supported; save with allow_pickle=False/);
  });
  it("refuses a header claiming a huge shape without allocating it", () => {
    const bytes = npyWith("{'descr': '<f8', 'fortran_order': False, 'shape': (100000, 100000, 1000), }", 16);
    expect(() => readNpy(bytes, "huge.npy")).toThrowError(/huge\.npy: shape \(100000, 100000, 1000\) of float64 needs 80000000000000 data bytes but the file has 16/);
  });
  it("refuses a shape whose element count is not a safe integer", () => {
    const bytes = npyWith("{'descr': '<f4', 'fortran_order': False, 'shape': (9007199254740991, 4), }");
    expect(codeOf(() => readNpy(bytes))).toBe("npy.size_mismatch");
  });
  it("refuses truncated and over-long data", () => {
    const header = "{'descr': '<i4', 'fortran_order': False, 'shape': (3,), }";
    expect(() => readNpy(npyWith(header, 8), "t.npy")).toThrowError(/needs 12 data bytes but the file has 8 \(truncated\?\)/);
    expect(codeOf(() => readNpy(npyWith(header, 16)))).toBe("npy.size_mismatch");
    expect(readNpy(npyWith(header, 12)).shape).toEqual([3]);
  });
  it("never evaluates the header: anything but literals is a parse error", () => {
    for (const header of [
      "{'descr': __import__('os'), 'fortran_order': False, 'shape': (1,), }",
      "{'descr': '<f4', 'fortran_order': False, 'shape': (1+1,), }",
      "{'descr': '<f4', 'fortran_order': False, 'shape': (1,) ",
      "['descr', '<f4']",
      "{'descr': '<f4', 'fortran_order': False, 'shape': " + "(".repeat(50) + ")".repeat(50) + "}",
    ]) expect(codeOf(() => readNpy(npyWith(header, 4))), header).toBe("npy.bad_header");
  });
  it("names missing header keys", () => {
    expect(() => readNpy(npyWith("{'descr': '<f4', 'shape': (1,)}", 4), "k.npy")).toThrowError(/k\.npy: header has no 'fortran_order' key/);
  });
  it("refuses unsupported dtypes, saying which were expected", () => {
    for (const descr of ["<u8", "<c8", "<U3", "|S4", "<M8"]) {
      const err = (() => { try { readNpy(npyWith(`{'descr': '${descr}', 'fortran_order': False, 'shape': (0,), }`)); } catch (e) { return e as NpyError; } })();
      expect(err?.code, descr).toBe("npy.unsupported_dtype");
      expect(err?.message).toContain(`'${descr}'`);
    }
    const structured = npyWith("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (0,), }");
    expect(codeOf(() => readNpy(structured))).toBe("npy.unsupported_dtype");
  });
  it("refuses other files and unknown versions", () => {
    expect(codeOf(() => readNpy(new TextEncoder().encode("PK\x03\x04 not an npy")))).toBe("npy.bad_magic");
    expect(codeOf(() => readNpy(npyWith("{}", 0, 4)))).toBe("npy.bad_version");
  });
  it("refuses a header length running past the end of the file", () => {
    const bytes = npyWith("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", 4, 2);
    new DataView(bytes.buffer).setUint32(8, 0xfffffff0, true);
    expect(codeOf(() => readNpy(bytes))).toBe("npy.bad_header");
  });
});

describe("writeNpy", () => {
  it("round-trips every fixture, aligning data to 64 bytes", () => {
    for (const name of Object.keys(expected).filter((n) => n.endsWith(".npy"))) {
      const original = readNpy(fixture(name));
      const written = writeNpy(original);
      const headerEnd = written.indexOf(0x0a) + 1;
      expect(headerEnd % 64, name).toBe(0);
      const back = readNpy(written);
      expect(back.dtype).toBe(original.dtype);
      expect(back.shape).toEqual(original.shape);
      expect(valuesOf(back)).toEqual(valuesOf(original));
    }
  });
  it("writes 1-tuples with a trailing comma and scalars as ()", () => {
    const header = (a: NpyArray) => new TextDecoder().decode(writeNpy(a)).split("\n")[0];
    expect(header({ dtype: "int32", shape: [2], data: new Int32Array(2) })).toContain("'shape': (2,)");
    expect(header({ dtype: "float64", shape: [], data: new Float64Array(1) })).toContain("'shape': ()");
  });
  it("refuses data that does not fill the shape", () => {
    expect(() => writeNpy({ dtype: "float32", shape: [2, 3], data: new Float32Array(5) })).toThrowError(/5 values for shape \(2, 3\), which holds 6/);
  });
});
