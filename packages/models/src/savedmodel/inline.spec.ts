import { describe, expect, it } from "vitest";
import { type ArgDef, DT, type FunctionDef, type MetaGraph, type NodeDef } from "./graph-proto.js";
import { OP_ALLOW_LIST, inlineSignatureFunction } from "./inline.js";

const arg = (name: string, type: number = DT.FLOAT): ArgDef => ({ name, type, typeAttr: "", numberAttr: "", typeListAttr: "" });
const node = (name: string, op: string, inputs: string[], attr: NodeDef["attr"] = {}): NodeDef => ({ name, op, inputs, attr });
const fn = (name: string, inputs: ArgDef[], nodes: NodeDef[], ret: Record<string, string>): FunctionDef => ({
  name, inputs, outputs: Object.keys(ret).map((k) => arg(k)), nodes, ret: new Map(Object.entries(ret)),
});
const graphOf = (...functions: FunctionDef[]): MetaGraph => ({
  tags: ["serve"], nodes: [], functions: new Map(functions.map((f) => [f.name, f])), signatures: new Map(), objects: [], boundInputs: new Map(),
});

describe("inlineSignatureFunction", () => {
  it("inlines nested calls, turns variable reads into the variable Placeholders and maps named outputs to flat indices", () => {
    const inner = fn("inner", [arg("x"), arg("w", DT.RESOURCE)], [
      node("read", "ReadVariableOp", ["w"]),
      node("bn", "FusedBatchNormV3", ["x", "read:value:0", "read:value:0", "read:value:0", "read:value:0"]),
      node("out", "Relu", ["bn:batch_variance:0", "^read"]),
    ], { y: "out:activations:0" });
    const outer = fn("outer", [arg("x"), arg("w", DT.RESOURCE)], [node("call", "StatefulPartitionedCall", ["x", "w"], { f: { func: { name: "inner" } } })], { output: "call:output:0" });
    const flat = inlineSignatureFunction(graphOf(inner, outer), "outer", 1, [-1, 4], "model");
    const bn = flat.nodes.find((n) => n.op === "FusedBatchNormV3")!;
    expect(bn.input).toEqual(["input:0", "variable_0:0", "variable_0:0", "variable_0:0", "variable_0:0"]);
    expect(flat.nodes.find((n) => n.op === "Relu")!.input).toEqual([`${bn.name}:2`]);
    expect(flat.output).toBe(`${flat.nodes.find((n) => n.op === "Relu")!.name}:0`);
    expect(flat.nodes.some((n) => n.op === "ReadVariableOp" || n.op.endsWith("PartitionedCall"))).toBe(false);
  });

  it("fills TensorFlow's default attributes that SavedModels strip and tfjs-converter needs", () => {
    const f = fn("f", [arg("x"), arg("w", DT.RESOURCE)], [node("r", "ReadVariableOp", ["w"]), node("c", "Conv2D", ["x", "r:value:0"], { padding: { s: "VkFMSUQ=" } })], { y: "c:output:0" });
    const conv = inlineSignatureFunction(graphOf(f), "f", 1, [-1, 4, 4, 1], "m").nodes.find((n) => n.op === "Conv2D")!;
    expect(conv.attr.dilations).toEqual({ list: { i: [1, 1, 1, 1] } });
    expect(conv.attr.padding).toEqual({ s: "VkFMSUQ=" });
  });

  it("refuses ops outside the allow-list, handles used as tensors, cycles and unknown functions, naming the function", () => {
    const bad = (nodes: NodeDef[], extra: FunctionDef[] = []) => () => inlineSignatureFunction(graphOf(fn("f", [arg("x"), arg("w", DT.RESOURCE)], nodes, { y: `${nodes[nodes.length - 1]!.name}:output:0` }), ...extra), "f", 1, [-1, 2], "m");
    expect(OP_ALLOW_LIST).not.toContain("Lgamma");
    expect(bad([node("g", "Lgamma", ["x"])])).toThrow(/^m: function f: op Lgamma \(node g\) is not supported/);
    expect(bad([node("a", "AssignVariableOp", ["w", "x"])])).toThrow(/op AssignVariableOp \(node a\) is not supported/);
    expect(bad([node("m", "MatMul", ["x", "w"])])).toThrow(/op MatMul \(node m\) takes a variable handle; only ReadVariableOp/);
    expect(bad([node("a", "Relu", ["b:activations:0"]), node("b", "Relu", ["a:activations:0"])])).toThrow(/node [ab] is part of a cycle/);
    expect(bad([node("c", "PartitionedCall", ["x"], { f: { func: { name: "missing" } } })])).toThrow(/calls missing, which is not in the function library/);
  });
});
