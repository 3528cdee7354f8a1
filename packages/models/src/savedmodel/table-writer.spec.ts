import { describe, expect, it } from "vitest";
import { TableError, readTable } from "./table.js";
import { writeTable } from "./table-writer.js";

const plain = (m: Iterable<[string, Uint8Array]>) => [...m].map(([k, v]) => [k, Array.from(v)]);

describe("writeTable", () => {
  it("writes a table that reads back entry for entry, keys sorted by their bytes", () => {
    const entries = new Map([["b", Uint8Array.of(2)], ["", Uint8Array.of(0)], ["a/long/key", new Uint8Array(300).fill(7)]]);
    expect(plain(readTable(writeTable(entries)))).toEqual(plain([...entries].sort((x, y) => (x[0] < y[0] ? -1 : 1))));
  });

  it("checksums its blocks: a flipped byte is caught by the reader's CRC32C check", () => {
    const bytes = writeTable(new Map([["key", Uint8Array.of(1, 2, 3)]]));
    bytes[4] ^= 0xff;
    expect(() => readTable(bytes)).toThrow(TableError);
    expect(() => readTable(bytes)).toThrow(/CRC32C mismatch/);
  });
});
