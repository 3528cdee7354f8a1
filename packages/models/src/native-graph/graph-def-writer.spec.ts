import { describe, expect, it } from "vitest";
import { readMetaGraph, tensorOf } from "../savedmodel/graph-proto.js";
import { GraphBuilder, DT_FLOAT, DT_INT32 } from "./graph-builder.js";
import { encodeSavedModel } from "./graph-def-writer.js";

describe("encodeSavedModel", () => {
  it("writes a MetaGraphDef tagged serve whose nodes, inputs and attributes the SavedModel reader decodes back", () => {
    const g = new GraphBuilder();
    const x = g.placeholder("x", DT_FLOAT, [null, 3]);
    const y = g.placeholder("y", DT_FLOAT);
    const shape = g.int32s([-1, 3]);
    const half = g.float(0.5);
    const r = g.f("Reshape", [y, shape], { Tshape: { type: DT_INT32 } });
    const m = g.f("MatMul", [x, r], { transpose_a: { b: true }, transpose_b: { b: false } });
    g.f("MaxPool", [m], { ksize: { list: [1, 2, 2, 1] }, padding: { s: "SAME" } });
    g.identity(g.f("Mul", [m, half]), "out");
    const bytes = encodeSavedModel(g.nodes);
    const meta = readMetaGraph(bytes, "test");
    expect(meta.tags).toEqual(["serve"]);
    expect(meta.nodes.map((n) => [n.name, n.op, n.inputs])).toEqual(g.nodes.map((n) => [n.name, n.op, n.inputs]));
    const byName = new Map(meta.nodes.map((n) => [n.name, n]));
    expect(byName.get("x")!.attr).toMatchObject({ dtype: { type: DT_FLOAT }, shape: { shape: { dim: [{ size: -1 }, { size: 3 }] } } });
    // The unknown batch dimension is int64 -1: ten varint bytes after Dim.size's key.
    expect(Buffer.from(bytes).includes(Buffer.from([0x12, 0x0b, 0x08, ...Array(9).fill(0xff), 0x01, 0x12, 0x02, 0x08, 0x03]))).toBe(true);
    expect(byName.get("y")!.attr.shape).toBeUndefined();
    expect(byName.get(m)!.attr).toMatchObject({ T: { type: DT_FLOAT }, transpose_a: { b: true } });
    expect(byName.get(m)!.attr.transpose_b?.b ?? false).toBe(false);
    const pool = meta.nodes.find((n) => n.op === "MaxPool")!;
    expect(pool.attr.ksize!.list!.i).toEqual([1, 2, 2, 1]);
    expect(Buffer.from(pool.attr.padding!.s!, "base64").toString()).toBe("SAME");
    const ints = tensorOf(byName.get(shape)!.attr.value!.tensorBytes!, "shape");
    expect([ints.dtype, ints.shape, Array.from(ints.values)]).toEqual([DT_INT32, [2], [-1, 3]]);
    const f = tensorOf(byName.get(half)!.attr.value!.tensorBytes!, "half");
    expect([f.shape, Array.from(f.values)]).toEqual([[], [0.5]]);
  });

  it("names ops uniquely: the given name once, then name_1, ...; unnamed ops Op_0, Op_1", () => {
    const g = new GraphBuilder();
    expect([g.placeholder("w0", DT_FLOAT, [2]), g.f("Relu", ["w0"]), g.f("Relu", ["w0"]), g.identity("w0", "loss"), g.identity("w0", "loss")]).toEqual(["w0", "Relu_0", "Relu_1", "loss", "loss_1"]);
  });
});
