import { readFileSync } from "node:fs";
import { zipSync } from "fflate";
import { describe, expect, it } from "vitest";
import { writeNpy } from "./npy.js";
import { NpzError, listNpz, readNpz, writeNpz } from "./npz.js";

const fixtures = new URL("../test-fixtures/", import.meta.url);
const fixture = (name: string) => new Uint8Array(readFileSync(new URL(name, fixtures)));
const expected: Record<string, { dtype: string; shape: number[]; values: (number | string)[] }> =
  JSON.parse(readFileSync(new URL("expected.json", fixtures), "utf8"));
const values = (data: ArrayLike<number | bigint>) => Array.from(data, (v) => (typeof v === "bigint" ? v.toString() : v));

function errorOf(fn: () => unknown): NpzError | undefined {
  try { fn(); } catch (err) { return err as NpzError; }
  return undefined;
}

describe("readNpz against numpy-written archives", () => {
  it.each(["stored.npz", "deflated.npz"])("%s matches np.load", (archive) => {
    const arrays = readNpz(fixture(archive), archive);
    const keys = Object.keys(expected).filter((k) => k.startsWith(`${archive}:`)).map((k) => k.split(":")[1]);
    expect([...arrays.keys()].sort()).toEqual(keys.sort());
    for (const key of keys) {
      const want = expected[`${archive}:${key}`];
      const got = arrays.get(key)!;
      expect(got.dtype).toBe(want.dtype);
      expect(got.shape).toEqual(want.shape);
      expect(values(got.data as ArrayLike<number | bigint>)).toEqual(want.values);
    }
  });
  it("lists entries without inflating and reads only the requested keys", () => {
    const listed = listNpz(fixture("deflated.npz"));
    expect(listed.map((e) => e.key).sort()).toEqual(["big_endian", "labels", "weights"]);
    expect(listed.every((e) => e.compressed)).toBe(true);
    expect(listNpz(fixture("stored.npz")).some((e) => e.compressed)).toBe(false);
    expect([...readNpz(fixture("deflated.npz"), "d", { only: ["labels"] }).keys()]).toEqual(["labels"]);
  });
  it("names the archive and entry when an entry is not a valid .npy", () => {
    const bogus = zipSync({ "x.npy": new TextEncoder().encode("hello") });
    expect(() => readNpz(bogus, "bad.npz")).toThrowError(/bad\.npz:x\.npy: not a \.npy file/);
  });
  it("refuses non-zip input", () => {
    expect(errorOf(() => readNpz(new Uint8Array(100), "junk.npz"))?.code).toBe("npz.bad_zip");
  });
});

describe("zip bomb guard", () => {
  // 64 MiB of zeros deflates to ~64 KiB: the declared size trips the limit before inflating.
  const bomb = zipSync({ "x.npy": [new Uint8Array(64 * 1024 * 1024), { level: 9 }] });
  it("refuses archives whose declared size exceeds maxBytes", () => {
    expect(bomb.length).toBeLessThan(1024 * 1024);
    const err = errorOf(() => readNpz(bomb, "bomb.npz", { maxBytes: 1024 * 1024 }));
    expect(err?.code).toBe("npz.too_large");
    expect(err?.message).toMatch(/bomb\.npz: .*67108864 uncompressed bytes, over the limit of 1048576/);
  });
  it("never inflates past the declared size when the directory lies", () => {
    // Patch the central directory's uncompressed size of the single entry down to 1000 bytes.
    const lying = bomb.slice();
    const view = new DataView(lying.buffer);
    let cd = lying.length - 22;
    while (view.getUint32(cd, true) !== 0x02014b50) cd--;
    view.setUint32(cd + 24, 1000, true);
    const err = errorOf(() => readNpz(lying, "liar.npz"));
    // The entry is inflated into a 1000-byte buffer: what comes out is cut there and then
    // refused as an .npy, instead of 64 MiB being allocated.
    expect(err?.message).toMatch(/^liar\.npz:x\.npy: not a \.npy file/);
  });
});

describe("writeNpz", () => {
  const arrays = {
    a: { dtype: "float32" as const, shape: [2, 2], data: new Float32Array([1, 2, 3, 4]) },
    b: { dtype: "int64" as const, shape: [3], data: new BigInt64Array([-1n, 2n ** 60n, 3n]) },
  };
  it.each([false, true])("round-trips (compress=%s)", (compress) => {
    const back = readNpz(writeNpz(arrays, { compress }));
    expect(values(back.get("a")!.data as Float32Array)).toEqual([1, 2, 3, 4]);
    expect(values(back.get("b")!.data as BigInt64Array)).toEqual(["-1", String(2n ** 60n), "3"]);
    expect(listNpz(writeNpz(arrays, { compress })).every((e) => e.compressed === compress)).toBe(true);
  });
  it("compresses when asked", () => {
    const zeros = { z: { dtype: "float64" as const, shape: [4096], data: new Float64Array(4096) } };
    expect(writeNpz(zeros, { compress: true }).length).toBeLessThan(writeNpz(zeros).length / 10);
  });
  it("refuses names that would become paths", () => {
    expect(errorOf(() => writeNpz({ "../x": arrays.a }))?.code).toBe("npz.bad_name");
  });
  it("stores each entry as the .npy bytes writeNpy makes", () => {
    const entry = listNpz(writeNpz({ a: arrays.a }))[0];
    expect(entry.bytes).toBe(writeNpy(arrays.a).length);
  });
});
