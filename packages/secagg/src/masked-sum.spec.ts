import { describe, expect, it } from "vitest";
import { MaskedSum } from "./masked-sum.js";

describe("MaskedSum", () => {
  it("adds staged uploads modulo 2^32 slice by slice and refuses another size", async () => {
    const source = (values: number[]) => {
      const bytes = new Uint8Array(Uint32Array.from(values).buffer);
      return { size: bytes.byteLength, read: async (o: number, l: number) => bytes.slice(o, o + l) };
    };
    const sum = new MaskedSum(5);
    await sum.add(source([1, 2, 0xffffffff, 4, 5]), 8);
    await sum.add(source([10, 20, 2, 40, 0xfffffffb]), 12);
    expect([...sum.sum]).toEqual([11, 22, 1, 44, 0]);
    expect(sum.count).toBe(2);
    await expect(sum.add(source([1, 2]))).rejects.toThrow(/20 bytes, got 8/);
  });
});
