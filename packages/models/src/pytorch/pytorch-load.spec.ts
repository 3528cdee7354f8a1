import path from "node:path";
import { zipSync } from "fflate";
import { beforeAll, describe, expect, it } from "vitest";
import { selectBackend } from "../backend.js";
import { loadModelFromSpec } from "../model-spec.js";
import { getWeights } from "../weights.js";
import { tf } from "../tfjs.js";
import { loadTorchFile } from "./torch-file.js";
import { PickleSecurityError, unpickle } from "./unpickler.js";
import { torchLoss, torchOptimizer } from "./training.js";
import { ownFixtures } from "./fixture-check.js";

const ascii = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));
/** protocol 2: os.system("echo pwned") via GLOBAL + REDUCE, the classic pickle exploit. */
const osSystem = ascii("\x80\x02cos\nsystem\nX\x0a\x00\x00\x00echo pwned\x85R.");
/** protocol 4: builtins.eval via STACK_GLOBAL. */
const evalPickle = ascii("\x80\x04\x8c\x08builtins\x8c\x04eval\x93\x8c\x041+1\x85R.");

describe("restricted unpickler", () => {
  it("refuses os.system before anything can run, naming the global", () => {
    expect(() => loadTorchFile(zipSync({ "model/data.pkl": osSystem, "model/version": ascii("3\n") }), "evil.pt")).toThrow(PickleSecurityError);
    expect(() => loadTorchFile(zipSync({ "model/data.pkl": osSystem }), "evil.pt")).toThrow(/evil\.pt: refused global os\.system/);
    expect(() => loadTorchFile(osSystem, "evil-legacy.pt")).toThrow(/not a torch\.save file|refused global/);
  });

  it("refuses builtins.eval (STACK_GLOBAL) and posix.system", () => {
    let called = false;
    const resolveGlobal = (q: string) => (q === "collections.OrderedDict" ? { kind: "function" as const, call: () => { called = true; return null; } } : undefined);
    expect(() => unpickle(evalPickle, { resolveGlobal, source: "x.pkl" })).toThrow(/refused global builtins\.eval/);
    expect(() => unpickle(ascii("cposix\nsystem\n(S'id'\ntR."), { resolveGlobal })).toThrow(/refused global posix\.system/);
    expect(called).toBe(false);
  });

  it("refuses opcodes that instantiate arbitrary classes", () => {
    expect(() => unpickle(ascii("(S'ls'\nios\nsystem\n."), { resolveGlobal: () => undefined })).toThrow(/unsupported or refused opcode 0x69/);
  });

  it("errors on truncated input and non-torch files, naming the file", () => {
    expect(() => unpickle(osSystem.subarray(0, 5), { resolveGlobal: () => undefined, source: "t.pkl" })).toThrow(/t\.pkl: (truncated|unterminated)/);
    expect(() => loadTorchFile(ascii("hello"), "x.pt")).toThrow(/x\.pt: not a torch\.save file/);
    expect(() => loadTorchFile(zipSync({ "a.txt": ascii("x") }), "y.pt")).toThrow(/y\.pt: .*data\.pkl/);
  });
});

describe("PytorchFLModel spec", () => {
  beforeAll(async () => { await selectBackend("cpu"); });
  // bn_pools: conv, batch norm, pools (conv_pad_stride's dilated conv trains too: atrous-conv.spec.ts).
  const dir = path.join(ownFixtures, "pytorch", "bn_pools");

  it("loads, compiles and trains one step: finite loss, weights change", async () => {
    const model = await loadModelFromSpec({
      name: "PytorchFLModel", specBaseDir: dir,
      spec: { model_name: "conv", model_definition: "model.pt", optimizer: "optim.SGD", loss_criterion: "nn.CrossEntropyLoss", learning_rate: 0.1, input_shape: [2, 16, 16] },
    });
    const before = getWeights(model);
    const x = tf.randomUniform([8, 2, 16, 16], 0, 1, "float32", 3);
    const y = tf.oneHot(tf.tensor1d([0, 1, 2, 0, 1, 2, 0, 1], "int32"), 3);
    const history = await model.fit(x, y, { epochs: 1, batchSize: 8, verbose: 0 });
    const loss = history.history.loss![0] as number;
    expect(Number.isFinite(loss)).toBe(true);
    const after = getWeights(model);
    expect(after.map((t) => t.name)).toEqual(before.map((t) => t.name));
    expect(after.some((t, i) => t.data.some((v, k) => v !== before[i]!.data[k]))).toBe(true);
  });

  it("rejects unknown optimizers and losses, listing the supported names", () => {
    expect(() => torchOptimizer("optim.LBFGS")).toThrow(/optim\.SGD, optim\.Adam, optim\.AdamW/);
    expect(() => torchLoss("nn.HuberLoss")).toThrow(/nn\.NLLLoss, nn\.CrossEntropyLoss/);
    for (const o of ["optim.SGD", "optim.Adam", "optim.AdamW", "optim.RMSprop", "optim.Adagrad", "optim.Adadelta"]) expect(torchOptimizer(o)).toBeDefined();
  });

  it("NLLLoss on log-probabilities equals -mean(logp[label]) for one-hot and class-id labels", () => {
    const nll = torchLoss("nn.NLLLoss") as (a: tf.Tensor, b: tf.Tensor) => tf.Tensor;
    const logp = tf.logSoftmax(tf.tensor2d([[1, 2, 3], [0, 0, 1]]));
    const expected = -((logp.arraySync() as number[][])[0]![2]! + (logp.arraySync() as number[][])[1]![0]!) / 2;
    expect(nll(tf.tensor2d([[0, 0, 1], [1, 0, 0]]), logp).dataSync()[0]).toBeCloseTo(expected, 6);
    expect(nll(tf.tensor1d([2, 0]), logp).dataSync()[0]).toBeCloseTo(expected, 6);
  });

  it("names the module that cannot be converted", async () => {
    await expect(loadModelFromSpec({ name: "PytorchFLModel", specBaseDir: dir, spec: { model_definition: "model.pt", loss_criterion: "nn.MSELoss", input_shape: [3, 2, 2] } }))
      .rejects.toThrow(/model\.pt: .*input too small|model\.pt/);
  });
});
