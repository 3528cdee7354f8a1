/**
 * The optimizer step done by the wasm workers: worker i updates the stretch of the flat weights
 * that it also sums (reduce.ts), so it needs no gradient but its own stretch of the sum. A
 * stretch cuts variables (the seed CNN's 9216x128 kernel is 98% of its weights, so whole
 * variables cannot be balanced over 2 workers): each piece is a segment, a 1-D variable of the
 * worker's own. That is exact for optimizers that update element by element, as all of Cohort's
 * Keras/PyTorch rules and tfjs' stock optimizers do (clipnorm, a per-variable norm, does not).
 * The optimizer's state (moments, step count) lives in the workers during a fit; these helpers
 * move it between the model's optimizer and the workers' segments, by variable and slot name.
 * Cohort's rules with an elementwise form step as one pass over plain arrays (ElementwiseShard);
 * others through the optimizer itself on the segments' variables.
 */
import { tf } from "../tfjs.js";
import { RuleOptimizer, type OptimizerRecipe } from "../optimizers/rule-optimizer.js";
import { kerasOptimizer } from "../optimizers/keras.js";
import { torchOptimizer } from "../optimizers/torch.js";

/** What a worker needs to build the model's optimizer again. */
export type OptimizerSpec =
  | { kind: "rule"; recipe: OptimizerRecipe; lr: number }
  | { kind: "tfjs"; className: string; config: tf.serialization.ConfigDict };

/** A piece of one variable in a worker's stretch: elements [from, to) of `variable`, at `at` in the flat layout. */
export interface Segment {
  variable: number;
  from: number;
  to: number;
  at: number;
}

/** One state slot's values for (a segment of) one variable. */
export interface SlotValues {
  variable: number;
  slot: string;
  values: Float32Array;
}

export interface OptimizerState {
  iterations: number;
  slots: SlotValues[];
}

/** tfjs' stock optimizers, all element by element. */
const ELEMENTWISE_TFJS = new Set(["SGD", "Momentum", "Adagrad", "Adadelta", "Adam", "Adamax", "RMSProp"]);

/** tf.Optimizer's Symbol.hasInstance takes any optimizer for an instance of every subclass: ask the prototype chain. */
const isRuleOptimizer = (o: tf.Optimizer): o is RuleOptimizer => Object.prototype.isPrototypeOf.call(RuleOptimizer.prototype, o);

/** The spec of `optimizer`, or why the workers cannot step it (it then stays on the main thread). */
export function describeOptimizer(optimizer: tf.Optimizer): OptimizerSpec | string {
  if (isRuleOptimizer(optimizer)) {
    const { rule } = optimizer;
    if (!rule.recipe) return `${rule.name} has no recipe to build it again in a worker`;
    if (rule.config.clipnorm) return `${rule.name} clips each gradient by the norm of the whole variable, which a worker holding a stretch of it does not see`;
    return { kind: "rule", recipe: rule.recipe, lr: optimizer.learningRate };
  }
  const className = optimizer.getClassName();
  const registered = tf.serialization.SerializationMap.getMap().classNameMap[className];
  // A subclass would report its parent's class name: only the stock class itself is rebuilt.
  if (!ELEMENTWISE_TFJS.has(className) || !registered || optimizer.constructor !== registered[0]) {
    return `the optimizer ${className} is not one the workers can rebuild and update element by element`;
  }
  return { kind: "tfjs", className, config: optimizer.getConfig() };
}

/** The optimizer a spec describes, with no state. */
export function buildOptimizer(spec: OptimizerSpec): tf.Optimizer {
  if (spec.kind === "tfjs") {
    const [cls, fromConfig] = tf.serialization.SerializationMap.getMap().classNameMap[spec.className];
    return fromConfig(cls, spec.config) as tf.Optimizer;
  }
  const { recipe } = spec;
  const built = recipe.family === "keras" ? kerasOptimizer(recipe.name, recipe.options) : torchOptimizer(recipe.name, recipe.params);
  built.learningRate = spec.lr; // set between rounds (setLearningRate) after the recipe was taken
  return built;
}

/** The segments of flat range [from, to) over variables of `sizes` elements laid end to end. */
export function segmentsOf(sizes: number[], from: number, to: number): Segment[] {
  const segments: Segment[] = [];
  let start = 0;
  sizes.forEach((size, variable) => {
    const a = Math.max(from, start);
    const b = Math.min(to, start + size);
    if (a < b) segments.push({ variable, from: a - start, to: b - start, at: a });
    start += size;
  });
  return segments;
}

/**
 * `optimizer`'s state, slot values by index into `names` (the variables it steps). Its weights
 * are named "<variable>/<slot>" after an "iter" count (tf.Optimizer.getWeights).
 */
export async function readState(optimizer: tf.Optimizer, names: string[]): Promise<OptimizerState> {
  const [iter, ...rest] = await optimizer.getWeights();
  const iterations = iter ? (await iter.tensor.data())[0] : 0;
  iter?.tensor.dispose(); // a scalar made for the call (tf.Optimizer.saveIterations); the slots are the optimizer's own
  const slots: SlotValues[] = [];
  for (const { name, tensor } of rest) {
    // The longest variable name that prefixes it: variable names may hold "/" themselves.
    let variable = -1;
    names.forEach((n, i) => {
      if (name.startsWith(`${n}/`) && (variable < 0 || n.length > names[variable].length)) variable = i;
    });
    if (variable < 0) throw new Error(`optimizer state "${name}" belongs to no trainable variable`);
    slots.push({ variable, slot: name.slice(names[variable].length + 1), values: (await tensor.data()) as Float32Array });
  }
  return { iterations, slots };
}

/**
 * Sets `optimizer`'s state: the step count, then each slot's values for all variables in `names`
 * order, slot after slot (the layout tfjs' stock optimizers read back by position; Cohort's
 * rule optimizers read it by name). A stock optimizer's replaced state is disposed.
 */
export async function writeState(optimizer: tf.Optimizer, names: string[], state: OptimizerState): Promise<void> {
  if (state.iterations === 0 && state.slots.length === 0) return;
  const order = [...new Set(state.slots.map((s) => s.slot))];
  const sorted = order.flatMap((slot) => state.slots.filter((s) => s.slot === slot).sort((a, b) => a.variable - b.variable));
  const tensors = [
    { name: "iter", tensor: tf.scalar(state.iterations, "int32") },
    ...sorted.map((s) => ({ name: `${names[s.variable]}/${s.slot}`, tensor: tf.tensor(s.values, tf.engine().registeredVariables[names[s.variable]].shape, "float32") })),
  ];
  // getWeights' first entry is a scalar made for the call; the rest are the state being replaced.
  const replaced = isRuleOptimizer(optimizer) ? [] : (await optimizer.getWeights()).map((w) => w.tensor);
  await optimizer.setWeights(tensors);
  tf.dispose(replaced);
  tf.dispose(tensors.map((t) => t.tensor));
}

/** The part of `state` that `segments` cover, by segment index. */
export function sliceState(state: OptimizerState, segments: Segment[]): OptimizerState {
  const slots: SlotValues[] = [];
  for (const s of state.slots) {
    segments.forEach((seg, k) => {
      if (seg.variable === s.variable) slots.push({ variable: k, slot: s.slot, values: s.values.slice(seg.from, seg.to) });
    });
  }
  return { iterations: state.iterations, slots };
}

/**
 * The whole state from the workers' pieces (each worker's slots by segment index, with its
 * segments), for variables of `sizes` elements. A slot some segment of a variable lacks (no step
 * ran since the state was handed out) is left out.
 */
export function joinState(pieces: { state: OptimizerState; segments: Segment[] }[], sizes: number[]): OptimizerState {
  const joined = new Map<string, { variable: number; slot: string; values: Float32Array; filled: number }>();
  for (const { state, segments } of pieces) {
    for (const s of state.slots) {
      const seg = segments[s.variable];
      const key = `${seg.variable}\u0000${s.slot}`;
      let whole = joined.get(key);
      if (!whole) joined.set(key, (whole = { variable: seg.variable, slot: s.slot, values: new Float32Array(sizes[seg.variable]), filled: 0 }));
      whole.values.set(s.values, seg.from);
      whole.filled += seg.to - seg.from;
    }
  }
  const slots = [...joined.values()].filter((w) => w.filled === w.values.length).map(({ variable, slot, values }) => ({ variable, slot, values }));
  return { iterations: Math.max(0, ...pieces.map((p) => p.state.iterations)), slots };
}

/**
 * A worker's optimizer for its stretch [from, to) of the flat weights as plain arrays, stepped by
 * the rule's elementwise form (rule-optimizer.ts, ElementwiseStep) in place in the shared weights:
 * no tensors in or out, one pass over memory. Its state has the layout `readState` gives for the
 * segment variables (slot values by segment index), so `joinState` takes either.
 */
export class ElementwiseShard {
  private iterations: number;
  private readonly slots: Record<string, Float32Array>;

  private constructor(private readonly optimizer: RuleOptimizer, private readonly segments: Segment[], private readonly from: number, to: number, state: OptimizerState) {
    this.iterations = state.iterations;
    this.slots = Object.fromEntries(Object.entries(optimizer.rule.slots).map(([name, init]) => [name, new Float32Array(to - from).fill(init)]));
    for (const s of state.slots) {
      const into = this.slots[s.slot];
      if (!into) throw new Error(`${optimizer.rule.name} has no state slot "${s.slot}"`);
      into.set(s.values, segments[s.variable].at - from);
    }
  }

  /**
   * The shard for `optimizer` over the stretch that `segments` cover, with its state (by segment
   * index, as `sliceState` cuts it); undefined where the optimizer has no elementwise form.
   */
  static of(optimizer: tf.Optimizer, segments: Segment[], from: number, to: number, state: OptimizerState): ElementwiseShard | undefined {
    if (!isRuleOptimizer(optimizer) || !optimizer.rule.elementwise) return undefined;
    return new ElementwiseShard(optimizer, segments, from, to, state);
  }

  /** One step: `grad` and `param` are the stretch's summed gradient and weights. */
  step(grad: Float32Array, param: Float32Array): void {
    this.iterations += 1;
    this.optimizer.rule.elementwise!(this.iterations, this.optimizer.learningRate)(grad, param, this.slots);
  }

  /** The state, as `readState` of the segment variables gives it; none before a first step. */
  state(): OptimizerState {
    if (this.iterations === 0) return { iterations: 0, slots: [] };
    const slots = this.segments.flatMap((seg, k) => Object.entries(this.slots).map(([slot, values]) =>
      ({ variable: k, slot, values: values.slice(seg.at - this.from, seg.at - this.from + seg.to - seg.from) })));
    return { iterations: this.iterations, slots };
  }
}
