import { describe, expect, it } from "vitest";
import { manifestFromMessage, manifestToMessage } from "./manifest-message.js";

describe("manifest messages", () => {
  it("round-trips a manifest", () => {
    const manifest = { tensors: [{ name: "w", dtype: "float32" as const, shape: [3, 4] }, { name: "s", dtype: "int64" as const, shape: [] }] };
    expect(manifestFromMessage(manifestToMessage(manifest))).toEqual(manifest);
  });

  it("refuses unknown dtypes, nameless tensors and absurd shapes from a peer", () => {
    expect(() => manifestFromMessage({ tensors: [{ name: "w", dtype: "complex64", shape: [1] }] })).toThrow(/unknown dtype "complex64"/);
    expect(() => manifestFromMessage({ tensors: [{ name: "", dtype: "float32", shape: [1] }] })).toThrow(/no name/);
    expect(() => manifestFromMessage({ tensors: [{ name: "w", dtype: "float32", shape: [2 ** 40, 2 ** 40] }] })).toThrow(/too many elements/);
  });
});
