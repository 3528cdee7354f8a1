import { beforeAll, describe, expect, it } from "vitest";
import { selectBackend } from "../backend.js";
import { tf } from "../tfjs.js";
import { kerasOptimizer } from "../optimizers/keras.js";
import { torchOptimizer } from "../optimizers/torch.js";
import { buildOptimizer, describeOptimizer, ElementwiseShard, joinState, readState, segmentsOf, sliceState, writeState, type OptimizerState } from "./optimizer-shard.js";
import { stretchOf } from "./reduce.js";

beforeAll(async () => {
  await selectBackend("wasm"); // the workers' backend
});

describe("segmentsOf", () => {
  it("cuts a stretch of the flat weights at variable ends", () => {
    // Variables of 3, 5 and 2 values; worker 0 of 2 holds [0, 5), worker 1 [5, 10).
    expect(segmentsOf([3, 5, 2], ...stretchOf(10, 0, 2))).toEqual([{ variable: 0, from: 0, to: 3, at: 0 }, { variable: 1, from: 0, to: 2, at: 3 }]);
    expect(segmentsOf([3, 5, 2], ...stretchOf(10, 1, 2))).toEqual([{ variable: 1, from: 2, to: 5, at: 5 }, { variable: 2, from: 0, to: 2, at: 8 }]);
    expect(segmentsOf([4], 1, 1)).toEqual([]);
  });
});

describe("sliceState and joinState", () => {
  it("give back the whole state from the workers' pieces, and leave out a slot a piece lacks", () => {
    const sizes = [3, 5, 2];
    const state: OptimizerState = {
      iterations: 7,
      slots: sizes.flatMap((n, variable) => ["m", "v"].map((slot) => ({ variable, slot, values: Float32Array.from({ length: n }, (_, i) => variable * 100 + i + (slot === "v" ? 0.5 : 0)) }))),
    };
    const pieces = [0, 1, 2].map((w) => {
      const segments = segmentsOf(sizes, ...stretchOf(10, w, 3));
      return { state: sliceState(state, segments), segments };
    });
    expect(joinState(pieces, sizes)).toEqual(state);
    pieces[2].state.slots = pieces[2].state.slots.filter((s) => s.slot !== "v"); // worker 2 holds the end of variable 1 and all of 2
    expect(joinState(pieces, sizes).slots.map((s) => `${s.variable}${s.slot}`)).toEqual(["0m", "0v", "1m", "2m"]);
  });
});

describe("describeOptimizer and buildOptimizer", () => {
  it("rebuilds Cohort's rules and tfjs' stock optimizers with the current learning rate", () => {
    const rule = kerasOptimizer("adam", { lr: 0.01 });
    rule.learningRate = 0.003; // setLearningRate between rounds
    const built = buildOptimizer(describeOptimizer(rule) as Exclude<ReturnType<typeof describeOptimizer>, string>);
    expect(built.getClassName()).toBe("Adam");
    expect((built as typeof rule).learningRate).toBe(0.003);
    expect((built as typeof rule).rule.name).toBe(rule.rule.name);
    const stock = buildOptimizer(describeOptimizer(tf.train.rmsprop(0.02, 0.8)) as Exclude<ReturnType<typeof describeOptimizer>, string>);
    expect(stock.getClassName()).toBe("RMSProp");
    expect(stock.getConfig()).toMatchObject({ learningRate: 0.02, decay: 0.8 });
  });

  it("says why an optimizer stays on the main thread", () => {
    expect(describeOptimizer(kerasOptimizer("sgd", { config: { clipnorm: 1 } }))).toMatch(/clips each gradient by the norm of the whole variable/);
    class Custom extends tf.AdamOptimizer {}
    expect(describeOptimizer(new Custom(0.1, 0.9, 0.999))).toMatch(/optimizer Adam is not one the workers can rebuild/);
    expect(typeof describeOptimizer(torchOptimizer("optim.SGD", { lr: 0.1, momentum: 0.9 }))).toBe("object");
  });
});

describe("readState and writeState", () => {
  it("move an optimizer's step count and slots by variable, into an optimizer that has not stepped", async () => {
    const a = tf.variable(tf.tensor([1, 2, 3]), true, "shard_spec/a");
    const b = tf.variable(tf.tensor([[4, 5]]), true, "shard_spec/a/b"); // a name that another prefixes
    for (const make of [() => torchOptimizer("optim.Adam", { lr: 0.1 }), () => tf.train.adam(0.1)]) {
      const stepped = make();
      const grads: tf.NamedTensorMap = { [a.name]: tf.tensor([0.1, -0.2, 0.3]), [b.name]: tf.tensor([[1, -1]]) };
      (stepped as tf.Optimizer).applyGradients(grads);
      const state = await readState(stepped, [a.name, b.name]);
      expect(state.iterations).toBe(1);
      expect(state.slots).toHaveLength(4); // two moments for each variable
      expect(state.slots.map((s) => s.variable).sort()).toEqual([0, 0, 1, 1]);
      const fresh = make();
      await writeState(fresh, [a.name, b.name], state);
      const back = await readState(fresh, [a.name, b.name]);
      expect(back).toEqual(state);
    }
    tf.dispose([a, b]);
  });
});

describe("ElementwiseShard", () => {
  it("steps each worker's stretch as the whole optimizer steps the variables, and hands back state joinState reassembles", async () => {
    const sizes = [3, 5, 2];
    const names = ["shard_elementwise/a", "shard_elementwise/b", "shard_elementwise/c"];
    const start = Float32Array.from({ length: 10 }, (_, i) => Math.cos(i));
    const vars = sizes.map((n, k) => tf.variable(tf.tensor1d(start.slice(sizes.slice(0, k).reduce((s, x) => s + x, 0)).slice(0, n)), true, names[k]));
    const whole = torchOptimizer("optim.Adam", { lr: 0.1, weight_decay: 0.01 });
    const gradOf = (step: number) => Float32Array.from({ length: 10 }, (_, i) => Math.sin(step * 3 + i));
    // Step 1 on the whole optimizer; its state is handed to two shards, which take steps 2 and 3.
    const split = (g: Float32Array) => Object.fromEntries(names.map((n, k) => [n, tf.tensor1d(g.slice(sizes.slice(0, k).reduce((s, x) => s + x, 0)).slice(0, sizes[k]))]));
    tf.tidy(() => whole.applyGradients(split(gradOf(1))));
    const handed = await readState(whole, names);
    const flat = Float32Array.from(vars.flatMap((v) => Array.from(v.dataSync())));
    const pieces = [0, 1].map((w) => {
      const [from, to] = stretchOf(10, w, 2);
      const segments = segmentsOf(sizes, from, to);
      const shard = ElementwiseShard.of(buildOptimizer(describeOptimizer(whole) as Exclude<ReturnType<typeof describeOptimizer>, string>), segments, from, to, sliceState(handed, segments))!;
      expect(shard).toBeDefined();
      return { shard, segments, from, to };
    });
    for (const step of [2, 3]) {
      const g = gradOf(step);
      tf.tidy(() => whole.applyGradients(split(g)));
      for (const p of pieces) p.shard.step(g.subarray(p.from, p.to), flat.subarray(p.from, p.to));
    }
    const expected = Float32Array.from(vars.flatMap((v) => Array.from(v.dataSync())));
    for (let i = 0; i < 10; i++) expect(flat[i]).toBeCloseTo(expected[i], 6);
    const joined = joinState(pieces.map((p) => ({ state: p.shard.state(), segments: p.segments })), sizes);
    const reference = await readState(whole, names);
    expect(joined.iterations).toBe(3);
    expect(joined.slots.map((s) => `${s.variable}${s.slot}`).sort()).toEqual(reference.slots.map((s) => `${s.variable}${s.slot}`).sort());
    for (const s of joined.slots) {
      const r = reference.slots.find((x) => x.variable === s.variable && x.slot === s.slot)!;
      s.values.forEach((v, i) => expect(v).toBeCloseTo(r.values[i], 6));
    }
    // A rule without an elementwise form (tfjs' stock Adam) gets no shard: its segments step eagerly.
    expect(ElementwiseShard.of(tf.train.adam(0.1), pieces[0].segments, 0, 5, { iterations: 0, slots: [] })).toBeUndefined();
    tf.dispose(vars);
  });
});
