/**
 * torch.optim's update rules and defaults (PyTorch 2.x, `foreach`/`fused` off, `maximize`
 * false), written from the formulas in PyTorch's documentation of each class. Coupled weight
 * decay (`weight_decay` adds wd * p to the gradient) everywhere except AdamW, which decays the
 * parameter itself before the Adam step.
 */
import { tf } from "../tfjs.js";
import type { FusedCall } from "../native-kernels/resource-slots.js";
import { adadeltaArrays } from "./elementwise-loops.js";
import { decayed, type ElementwiseStep, type FusedStepInput, type FusedUpdate, RuleOptimizer, type StepInput, type StepOutput, type UpdateRule } from "./rule-optimizer.js";

type T = tf.Tensor;
type Params = Record<string, number | boolean | number[]>;

const coupled = (grad: T, param: T, wd: number): T => (wd ? tf.add(grad, tf.mul(param, wd)) : grad);
/** a * (1 - w) + b * w, torch's `lerp_` form of an exponential moving average. */
const lerp = (a: T, b: T, w: number): T => tf.add(a, tf.mul(tf.sub(b, a), w));

interface Spec<P extends Params> {
  /** torch's defaults for the constructor's keyword arguments (`lr` included). */
  defaults: P;
  slots: (p: P) => Record<string, number>;
  update: (p: P, input: StepInput) => StepOutput;
  /** Checks beyond the types (torch raises the same). */
  check?: (p: P) => string | undefined;
  /**
   * The same rule as a TensorFlow training op (the tensorflow backend runs it as one kernel):
   * the op call with the gradient and parameter it applies to. Absent where no op computes
   * torch's rule exactly.
   */
  fused?: (p: P, input: FusedStepInput) => FusedUpdate;
  /** `update` on plain arrays (rule-optimizer.ts, ElementwiseStep), where written. */
  elementwise?: (p: P, step: number, lr: number) => ElementwiseStep;
}

const slot = (name: string) => ({ slot: name });
const fusedOn = (call: FusedCall, grad: T, param: T): FusedUpdate => ({ call, grad, param });

const sgd: Spec<{ lr: number; momentum: number; dampening: number; weight_decay: number; nesterov: boolean }> = {
  defaults: { lr: 1e-3, momentum: 0, dampening: 0, weight_decay: 0, nesterov: false },
  slots: () => ({ momentum_buffer: 0 }),
  check: (p) => (p.nesterov && (p.momentum <= 0 || p.dampening !== 0) ? "nesterov needs a momentum and zero dampening" : undefined),
  update: (p, { grad, param, slots, step, lr }) => {
    let g = coupled(grad, param, p.weight_decay);
    if (!p.momentum) return { param: tf.sub(param, tf.mul(g, lr)) };
    // The first step's buffer is the gradient itself (no dampening), as torch does.
    const buf = step === 1 ? g : tf.add(tf.mul(slots.momentum_buffer!, p.momentum), tf.mul(g, 1 - p.dampening));
    g = p.nesterov ? tf.add(g, tf.mul(buf, p.momentum)) : buf;
    return { param: tf.sub(param, tf.mul(g, lr)), slots: { momentum_buffer: buf } };
  },
  // ApplyMomentum: accum = accum * momentum + grad; var -= lr * accum (nesterov: lr * (grad +
  // momentum * accum)). Dampening scales the gradient into the buffer after the first step; the
  // first step's buffer (0 * momentum + g) is g itself, as torch's.
  fused: (p, { grad, param, step, lr }) => {
    const g = coupled(grad, param, p.weight_decay);
    if (!p.momentum) return fusedOn({ op: "ResourceApplyGradientDescent", inputs: [lr, "grad"] }, g, param);
    const into = step === 1 || !p.dampening ? g : tf.mul(g, 1 - p.dampening);
    // Nesterov adds the undamped gradient; torch forbids dampening with it, so `into` is g there.
    return fusedOn({ op: "ResourceApplyMomentum", inputs: [slot("momentum_buffer"), lr, "grad", p.momentum], flags: { use_nesterov: p.nesterov } }, into, param);
  },
  elementwise: (p, step, lr) => (grad, param, { momentum_buffer: buf }) =>
    sgdArrays(grad, param, buf!, p.weight_decay, p.momentum, step === 1 ? 0 : p.momentum, step === 1 ? 1 : 1 - p.dampening, p.nesterov, lr),
};

type AdamParams = { lr: number; betas: number[]; eps: number; weight_decay: number; amsgrad: boolean };
function adamStep(p: AdamParams, g: T, param: T, { slots, step, lr }: StepInput): StepOutput {
  const [b1, b2] = p.betas as [number, number];
  const m = lerp(slots.exp_avg!, g, 1 - b1);
  const v = tf.add(tf.mul(slots.exp_avg_sq!, b2), tf.mul(tf.square(g), 1 - b2));
  const vMax = p.amsgrad ? tf.maximum(slots.max_exp_avg_sq!, v) : v;
  const denom = tf.add(tf.div(tf.sqrt(vMax), Math.sqrt(1 - b2 ** step)), p.eps);
  const stepSize = lr / (1 - b1 ** step);
  return {
    param: tf.sub(param, tf.mul(tf.div(m, denom), stepSize)),
    slots: { exp_avg: m, exp_avg_sq: v, ...(p.amsgrad ? { max_exp_avg_sq: vMax } : {}) },
  };
}
/**
 * Adam as TensorFlow's ApplyAdam, which computes lr * sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + eps').
 * torch's lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps) is that with eps' = eps * sqrt(1 - b2^t).
 */
function fusedAdam(p: AdamParams, grad: T, param: T, { step, lr }: FusedStepInput): FusedUpdate {
  const [b1, b2] = p.betas as [number, number];
  const eps = p.eps * Math.sqrt(1 - b2 ** step);
  return fusedOn({
    op: p.amsgrad ? "ResourceApplyAdamWithAmsgrad" : "ResourceApplyAdam",
    inputs: [slot("exp_avg"), slot("exp_avg_sq"), ...(p.amsgrad ? [slot("max_exp_avg_sq")] : []), b1 ** step, b2 ** step, lr, b1, b2, eps, "grad"],
  }, grad, param);
}
/** adamStep on plain arrays; `coupledDecay` adds wd * p to the gradient (Adam), else the parameter decays first (AdamW). */
function adamElementwise(p: AdamParams, step: number, lr: number, coupledDecay: boolean): ElementwiseStep {
  const [b1, b2] = p.betas as [number, number];
  const wd = p.weight_decay;
  return (grad, param, { exp_avg: m, exp_avg_sq: v, max_exp_avg_sq: vMax }) => adamArrays(grad, param, m!, v!, vMax,
    coupledDecay ? wd : 0, coupledDecay ? 1 : 1 - lr * wd, b1, b2, p.eps, Math.sqrt(1 - b2 ** step), lr / (1 - b1 ** step));
}

/*
 * The elementwise forms' loops, as plain functions of arrays and numbers: V8 optimizes these
 * about 1.5x better than the same loop in a closure over the hyperparameters, and does not take
 * a loop-invariant test out of a loop (hence one loop per case). Arithmetic in double precision;
 * the stored (float32) slots step the parameter, as the eager rule's do.
 */

/**
 * torch's SGD: g = grad + wd p; buf = keep buf + into g (the first step: keep 0, into 1);
 * p -= lr (Nesterov: g + mu buf; else buf); without momentum p -= lr g.
 */
function sgdArrays(grad: Float32Array, param: Float32Array, buf: Float32Array, wd: number, mu: number, keep: number, into: number, nesterov: boolean, lr: number): void {
  const n = grad.length;
  if (!mu) {
    for (let i = 0; i < n; i++) param[i] -= (grad[i] + param[i] * wd) * lr;
    return;
  }
  for (let i = 0; i < n; i++) {
    const g = grad[i] + param[i] * wd;
    const b = Math.fround(buf[i] * keep + g * into);
    buf[i] = b;
    param[i] -= (nesterov ? g + b * mu : b) * lr;
  }
}

/** torch's Adam: g = grad + wd p, p scaled by `shrink` (AdamW), then p -= stepSize m / (sqrt(v) / root + eps); `vMax` for AMSGrad. */
function adamArrays(grad: Float32Array, param: Float32Array, m: Float32Array, v: Float32Array, vMax: Float32Array | undefined,
  wd: number, shrink: number, b1: number, b2: number, eps: number, root: number, stepSize: number): void {
  const n = grad.length;
  const c1 = 1 - b1;
  const c2 = 1 - b2;
  // Two loops, as in keras.ts: V8 does not take the AMSGrad test out of the loop.
  if (vMax) {
    for (let i = 0; i < n; i++) {
      const g = grad[i] + param[i] * wd;
      const mi = Math.fround(m[i] + (g - m[i]) * c1);
      const vi = Math.fround(v[i] * b2 + g * g * c2);
      m[i] = mi;
      v[i] = vi;
      const top = (vMax[i] = Math.max(vMax[i], vi));
      param[i] = param[i] * shrink - (mi / (Math.sqrt(top) / root + eps)) * stepSize;
    }
    return;
  }
  for (let i = 0; i < n; i++) {
    const g = grad[i] + param[i] * wd;
    const mi = Math.fround(m[i] + (g - m[i]) * c1);
    const vi = Math.fround(v[i] * b2 + g * g * c2);
    m[i] = mi;
    v[i] = vi;
    param[i] = param[i] * shrink - (mi / (Math.sqrt(vi) / root + eps)) * stepSize;
  }
}
/**
 * torch's RMSprop: g = grad + wd p; sq = alpha sq + (1 - alpha) g^2 (centered: less the squared
 * average gradient); p -= lr g / (sqrt(sq) + eps), or with momentum buf = mu buf + g / (sqrt(sq) + eps), p -= lr buf.
 * The default (no momentum, not centered) has a loop of its own; the variants share one with its tests.
 */
function rmspropArrays(grad: Float32Array, param: Float32Array, sq: Float32Array, buf: Float32Array | undefined, avg: Float32Array | undefined,
  alpha: number, eps: number, wd: number, mu: number, lr: number): void {
  const n = grad.length;
  const c = 1 - alpha;
  if (!buf && !avg) {
    for (let i = 0; i < n; i++) {
      const g = Math.fround(grad[i] + param[i] * wd);
      const s = (sq[i] = Math.fround(sq[i] * alpha + g * g * c));
      param[i] -= (g / (Math.sqrt(s) + eps)) * lr;
    }
    return;
  }
  for (let i = 0; i < n; i++) {
    const g = Math.fround(grad[i] + param[i] * wd);
    const s = (sq[i] = Math.fround(sq[i] * alpha + g * g * c));
    let meanSquare = s;
    if (avg) {
      const a = (avg[i] = Math.fround(avg[i] + (g - avg[i]) * c));
      meanSquare = Math.fround(s - a * a);
    }
    const scaled = Math.fround(g / (Math.sqrt(meanSquare) + eps));
    param[i] -= (buf ? (buf[i] = Math.fround(buf[i] * mu + scaled)) : scaled) * lr;
  }
}

/** torch's Adagrad: g = grad + wd p; sum += g^2; p -= lr g / (sqrt(sum) + eps), lr decayed by the step count. */
function adagradArrays(grad: Float32Array, param: Float32Array, sum: Float32Array, eps: number, wd: number, lr: number): void {
  const n = grad.length;
  for (let i = 0; i < n; i++) {
    const g = Math.fround(grad[i] + param[i] * wd);
    const s = (sum[i] = Math.fround(sum[i] + g * g));
    param[i] -= (g / (Math.sqrt(s) + eps)) * lr;
  }
}

const adamSlots = (p: AdamParams) => ({ exp_avg: 0, exp_avg_sq: 0, ...(p.amsgrad ? { max_exp_avg_sq: 0 } : {}) });
const checkBetas = (p: AdamParams) => (p.betas.length !== 2 || p.betas.some((b) => !(b >= 0 && b < 1)) ? "betas must be two numbers in [0, 1)" : undefined);

const adam: Spec<AdamParams> = {
  defaults: { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weight_decay: 0, amsgrad: false },
  slots: adamSlots,
  check: checkBetas,
  update: (p, input) => adamStep(p, coupled(input.grad, input.param, p.weight_decay), input.param, input),
  fused: (p, input) => fusedAdam(p, coupled(input.grad, input.param, p.weight_decay), input.param, input),
  elementwise: (p, step, lr) => adamElementwise(p, step, lr, true),
};

const adamw: Spec<AdamParams> = {
  defaults: { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weight_decay: 1e-2, amsgrad: false },
  slots: adamSlots,
  check: checkBetas,
  update: (p, input) => adamStep(p, input.grad, decayed(input.param, input.lr, p.weight_decay), input),
  fused: (p, input) => fusedAdam(p, input.grad, decayed(input.param, input.lr, p.weight_decay), input),
  elementwise: (p, step, lr) => adamElementwise(p, step, lr, false),
};

const rmsprop: Spec<{ lr: number; alpha: number; eps: number; weight_decay: number; momentum: number; centered: boolean }> = {
  defaults: { lr: 1e-2, alpha: 0.99, eps: 1e-8, weight_decay: 0, momentum: 0, centered: false },
  slots: (p) => ({ square_avg: 0, ...(p.momentum ? { momentum_buffer: 0 } : {}), ...(p.centered ? { grad_avg: 0 } : {}) }),
  update: (p, { grad, param, slots, lr }) => {
    const g = coupled(grad, param, p.weight_decay);
    const sq = tf.add(tf.mul(slots.square_avg!, p.alpha), tf.mul(tf.square(g), 1 - p.alpha));
    const ga = p.centered ? lerp(slots.grad_avg!, g, 1 - p.alpha) : undefined;
    // epsilon outside the square root (TF.js and Keras put it inside).
    const avg = tf.add(tf.sqrt(ga ? tf.sub(sq, tf.square(ga)) : sq), p.eps);
    const next: Record<string, T> = { square_avg: sq, ...(ga ? { grad_avg: ga } : {}) };
    if (!p.momentum) return { param: tf.sub(param, tf.mul(tf.div(g, avg), lr)), slots: next };
    const buf = tf.add(tf.mul(slots.momentum_buffer!, p.momentum), tf.div(g, avg));
    return { param: tf.sub(param, tf.mul(buf, lr)), slots: { ...next, momentum_buffer: buf } };
  },
  elementwise: (p, _step, lr) => (grad, param, { square_avg: sq, momentum_buffer: buf, grad_avg: avg }) =>
    rmspropArrays(grad, param, sq!, p.momentum ? buf : undefined, p.centered ? avg : undefined, p.alpha, p.eps, p.weight_decay, p.momentum, lr),
};

const adagrad: Spec<{ lr: number; lr_decay: number; weight_decay: number; initial_accumulator_value: number; eps: number }> = {
  defaults: { lr: 1e-2, lr_decay: 0, weight_decay: 0, initial_accumulator_value: 0, eps: 1e-10 },
  slots: (p) => ({ sum: p.initial_accumulator_value }),
  update: (p, { grad, param, slots, step, lr }) => {
    const g = coupled(grad, param, p.weight_decay);
    const clr = lr / (1 + (step - 1) * p.lr_decay);
    const sum = tf.add(slots.sum!, tf.square(g));
    return { param: tf.sub(param, tf.mul(tf.div(g, tf.add(tf.sqrt(sum), p.eps)), clr)), slots: { sum } };
  },
  // ApplyAdagradV2: accum += g^2; var -= lr * g / (sqrt(accum) + epsilon), torch's rule.
  fused: (p, { grad, param, step, lr }) => fusedOn({
    op: "ResourceApplyAdagradV2",
    inputs: [slot("sum"), lr / (1 + (step - 1) * p.lr_decay), p.eps, "grad"],
    flags: { update_slots: true },
  }, coupled(grad, param, p.weight_decay), param),
  elementwise: (p, step, lr) => (grad, param, { sum }) => adagradArrays(grad, param, sum!, p.eps, p.weight_decay, lr / (1 + (step - 1) * p.lr_decay)),
};

const adadelta: Spec<{ lr: number; rho: number; eps: number; weight_decay: number }> = {
  defaults: { lr: 1.0, rho: 0.9, eps: 1e-6, weight_decay: 0 },
  slots: () => ({ square_avg: 0, acc_delta: 0 }),
  update: (p, { grad, param, slots, lr }) => {
    const g = coupled(grad, param, p.weight_decay);
    // The *new* squared-gradient average divides: the first step is about sqrt(eps)/|g| * g, not g.
    const sq = tf.add(tf.mul(slots.square_avg!, p.rho), tf.mul(tf.square(g), 1 - p.rho));
    const delta = tf.mul(tf.div(tf.sqrt(tf.add(slots.acc_delta!, p.eps)), tf.sqrt(tf.add(sq, p.eps))), g);
    const acc = tf.add(tf.mul(slots.acc_delta!, p.rho), tf.mul(tf.square(delta), 1 - p.rho));
    return { param: tf.sub(param, tf.mul(delta, lr)), slots: { square_avg: sq, acc_delta: acc } };
  },
  fused: (p, { grad, param, lr }) => fusedOn({ op: "ResourceApplyAdadelta", inputs: [slot("square_avg"), slot("acc_delta"), lr, p.rho, p.eps, "grad"] }, coupled(grad, param, p.weight_decay), param),
  elementwise: (p, _step, lr) => (grad, param, { square_avg: sq, acc_delta: acc }) => adadeltaArrays(grad, param, sq!, acc!, p.rho, p.eps, p.weight_decay, lr, 1),
};

const SPECS: Record<string, { cls: string; spec: Spec<never> }> = {
  sgd: { cls: "SGD", spec: sgd as unknown as Spec<never> },
  adam: { cls: "Adam", spec: adam as unknown as Spec<never> },
  adamw: { cls: "AdamW", spec: adamw as unknown as Spec<never> },
  rmsprop: { cls: "RMSprop", spec: rmsprop as unknown as Spec<never> },
  adagrad: { cls: "Adagrad", spec: adagrad as unknown as Spec<never> },
  adadelta: { cls: "Adadelta", spec: adadelta as unknown as Spec<never> },
};

export const TORCH_OPTIMIZERS = Object.values(SPECS).map((s) => `optim.${s.cls}`);

/** torch's defaults for `optim.NAME`, e.g. `{lr: 1, rho: 0.9, eps: 1e-6, weight_decay: 0}` for Adadelta. */
export function torchOptimizerDefaults(name: string): Params {
  return { ...(entry(name).spec.defaults as Params) };
}

function entry(name: string) {
  const found = SPECS[name.trim().replace(/^(torch\.)?(optim\.)?/, "").toLowerCase()];
  if (!found) throw new Error(`unsupported optimizer "${name}"; supported: ${TORCH_OPTIMIZERS.join(", ")}`);
  return found;
}

/**
 * `optim.NAME` with torch's defaults overridden by `params` (torch's keyword arguments; unknown
 * keys and wrong types are errors naming the key).
 */
export function torchOptimizer(name: string, params: Record<string, unknown> = {}): RuleOptimizer {
  const { cls, spec } = entry(name);
  const defaults = spec.defaults as Params;
  const p: Params = { ...defaults };
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined) continue;
    if (!(k in defaults)) throw new Error(`optim.${cls} has no parameter "${k}"; it takes ${Object.keys(defaults).join(", ")}`);
    const want = defaults[k];
    const ok = Array.isArray(want) ? Array.isArray(v) && v.every((x) => typeof x === "number" && Number.isFinite(x))
      : typeof want === "boolean" ? typeof v === "boolean" : typeof v === "number" && Number.isFinite(v) && v >= 0;
    if (!ok) throw new Error(`optim.${cls} ${k} must be ${Array.isArray(want) ? "a list of numbers" : typeof want === "boolean" ? "true or false" : "a non-negative number"}, got ${JSON.stringify(v)}`);
    p[k] = v as Params[string];
  }
  if (!((p.lr as number) > 0)) throw new RangeError(`optim.${cls} lr must be a positive number, got ${p.lr}`);
  const problem = spec.check?.(p as never);
  if (problem) throw new Error(`optim.${cls}: ${problem}`);
  const rule: UpdateRule = {
    name: `torch.optim.${cls}`,
    className: cls,
    config: { ...p },
    slots: spec.slots(p as never),
    recipe: { family: "torch", name, params: { ...params } },
    update: (input) => spec.update(p as never, input),
    // torch's RMSprop adds eps outside the root, which no TensorFlow op does: it stays eager.
    fused: spec.fused && ((input) => spec.fused!(p as never, input)),
    elementwise: spec.elementwise && ((step, lr) => spec.elementwise!(p as never, step, lr)),
  };
  return new RuleOptimizer(rule, p.lr as number);
}
