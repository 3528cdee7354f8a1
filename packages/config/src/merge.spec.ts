import { describe, expect, it } from "vitest";
import { mergeOverrides } from "./merge.js";

describe("mergeOverrides", () => {
  it("merges mappings key by key and replaces lists and scalars", () => {
    const base = { connection: { info: { ip: "0.0.0.0", port: 5000 } }, parties: [{ name: "a" }, { name: "b" }] };
    const merged = mergeOverrides(base, { connection: { info: { port: 0 } }, parties: [{ name: "c" }] });
    expect(merged).toEqual({ connection: { info: { ip: "0.0.0.0", port: 0 } }, parties: [{ name: "c" }] });
    expect(base.connection.info.port).toBe(5000);
  });

  it("leaves values alone for undefined overrides", () => {
    expect(mergeOverrides({ a: 1 }, { a: undefined })).toEqual({ a: 1 });
    expect(mergeOverrides({ a: 1 }, undefined)).toEqual({ a: 1 });
  });
});
