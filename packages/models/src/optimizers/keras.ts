/**
 * Keras' optimizers, with the update rules and defaults of the Keras that wrote the file.
 * Two generations differ:
 * - `keras3`: Keras 3 (`keras/src/optimizers/*.py`); tf.keras 2.x (1.15 to 2.16) has the same
 *   defaults (Adadelta lr 0.001, Adagrad initial accumulator 0.1) and, but for Adagrad's epsilon
 *   in tf.keras <= 2.10, the same rules.
 * - `keras2`: standalone Keras 2.0 to 2.3 (`keras_version` "2.2.4" without "-tf"): Adadelta
 *   lr 1.0, Adagrad lr 0.01 from a zero accumulator, Adamax lr 0.002; RMSprop and Adagrad add
 *   epsilon outside the square root; `decay` scales lr by 1 / (1 + decay * iterations).
 * Keras 3 applies `weight_decay` decoupled (p -= p * wd * lr, before the step), and clips each
 * gradient by `clipnorm` / `clipvalue` first.
 */
import { tf } from "../tfjs.js";
import type { FusedCall } from "../native-kernels/resource-slots.js";
import { adadeltaArrays } from "./elementwise-loops.js";
import { decayed, type ElementwiseStep, type FusedStepInput, RuleOptimizer, type StepInput, type StepOutput } from "./rule-optimizer.js";

type T = tf.Tensor;
export type KerasGeneration = "keras2" | "keras3";

/** Standalone Keras before 2.4 is Keras 2; tf.keras ("-tf", 2.4+) and Keras 3 share Keras 3's defaults. */
export function kerasGeneration(kerasVersion: string | undefined): KerasGeneration {
  return kerasVersion && /^2\.[0-3]\.\d+$/.test(kerasVersion.trim()) ? "keras2" : "keras3";
}

interface Hyper { lr: number; beta_1: number; beta_2: number; epsilon: number; rho: number; momentum: number; nesterov: boolean; centered: boolean; amsgrad: boolean; initial_accumulator_value: number }

interface Family {
  cls: string;
  /** Defaults per generation (lr and the rule's own keys). */
  defaults: Record<KerasGeneration, Partial<Hyper>>;
  slots: (h: Hyper) => Record<string, number>;
  update: (h: Hyper, gen: KerasGeneration, input: StepInput) => StepOutput;
  /**
   * The TensorFlow training op that computes exactly `update` for these hyperparameters (the
   * kernels Keras itself runs on TensorFlow), or undefined where none does.
   */
  fused?: (h: Hyper, gen: KerasGeneration) => ((input: FusedStepInput) => FusedCall) | undefined;
  /**
   * `update` on plain arrays (rule-optimizer.ts, ElementwiseStep), the parameter first scaled by
   * `shrink` (decoupled weight decay; 1 without).
   */
  elementwise?: (h: Hyper, gen: KerasGeneration) => (step: number, lr: number, shrink: number) => ElementwiseStep;
}

const slot = (name: string) => ({ slot: name });

const ema = (old: T, x: T, rate: number): T => tf.add(tf.mul(old, rate), tf.mul(x, 1 - rate));

/*
 * The elementwise forms' loops, as plain functions of arrays and numbers: V8 optimizes these
 * about 1.5x better than the same loop in a closure over the hyperparameters (1.2M weights of
 * Adam: 5.7 ms against 8.7). Arithmetic in double precision; the stored (float32) moments step
 * the parameter, as the eager rule's do.
 */

/** Keras' SGD: m = mu m - lr g; p += m (Nesterov: mu m - lr g), p first scaled by `shrink`. */
function sgdArrays(g: Float32Array, p: Float32Array, m: Float32Array, mu: number, nesterov: boolean, lr: number, shrink: number): void {
  const n = g.length;
  if (!mu) {
    for (let i = 0; i < n; i++) p[i] = p[i] * shrink - g[i] * lr;
  } else if (nesterov) {
    for (let i = 0; i < n; i++) {
      const mi = Math.fround(m[i] * mu - g[i] * lr);
      m[i] = mi;
      p[i] = p[i] * shrink + (mi * mu - g[i] * lr);
    }
  } else {
    for (let i = 0; i < n; i++) {
      const mi = Math.fround(m[i] * mu - g[i] * lr);
      m[i] = mi;
      p[i] = p[i] * shrink + mi;
    }
  }
}

/** Keras' Adam with alpha = lr sqrt(1 - b2^t) / (1 - b1^t); `vHat` for AMSGrad. */
function adamArrays(g: Float32Array, p: Float32Array, m: Float32Array, v: Float32Array, vHat: Float32Array | undefined, b1: number, b2: number, eps: number, alpha: number, shrink: number): void {
  const n = g.length;
  const c1 = 1 - b1;
  const c2 = 1 - b2;
  // Two loops: V8 does not take a loop-invariant test out of the loop (plain Adam over 1.2M
  // weights: 4.9 ms as its own loop, 6.2 with the AMSGrad test inside; /tmp script, Node 20).
  if (vHat) {
    for (let i = 0; i < n; i++) {
      const gi = g[i];
      const mi = Math.fround(m[i] * b1 + gi * c1);
      const vi = Math.fround(v[i] * b2 + gi * gi * c2);
      m[i] = mi;
      v[i] = vi;
      const vMax = (vHat[i] = Math.max(vHat[i], vi));
      p[i] = p[i] * shrink - (mi * alpha) / (Math.sqrt(vMax) + eps);
    }
    return;
  }
  for (let i = 0; i < n; i++) {
    const gi = g[i];
    const mi = Math.fround(m[i] * b1 + gi * c1);
    const vi = Math.fround(v[i] * b2 + gi * gi * c2);
    m[i] = mi;
    v[i] = vi;
    p[i] = p[i] * shrink - (mi * alpha) / (Math.sqrt(vi) + eps);
  }
}

/**
 * Keras' RMSprop: v = rho v + (1 - rho) g^2 (centered: less the squared average gradient), the
 * increment lr g / sqrt(v + eps) (Keras 2: / (sqrt(v) + eps)), with momentum mom = mu mom + increment.
 * The default (no momentum, not centered) has loops of its own; the variants share one with its tests.
 */
function rmspropArrays(g: Float32Array, p: Float32Array, v: Float32Array, mom: Float32Array | undefined, avg: Float32Array | undefined,
  rho: number, eps: number, epsInside: boolean, mu: number, lr: number, shrink: number): void {
  const n = g.length;
  const c = 1 - rho;
  if (!mom && !avg) {
    if (epsInside) for (let i = 0; i < n; i++) {
      const gi = g[i];
      const vi = (v[i] = Math.fround(v[i] * rho + gi * gi * c));
      p[i] = p[i] * shrink - (gi * lr) / Math.sqrt(vi + eps);
    }
    else for (let i = 0; i < n; i++) {
      const gi = g[i];
      const vi = (v[i] = Math.fround(v[i] * rho + gi * gi * c));
      p[i] = p[i] * shrink - (gi * lr) / (Math.sqrt(vi) + eps);
    }
    return;
  }
  for (let i = 0; i < n; i++) {
    const gi = g[i];
    const vi = (v[i] = Math.fround(v[i] * rho + gi * gi * c));
    let meanSquare = vi;
    if (avg) {
      const ai = (avg[i] = Math.fround(avg[i] * rho + gi * c));
      meanSquare = Math.fround(vi - ai * ai);
    }
    const increment = Math.fround((gi * lr) / (epsInside ? Math.sqrt(meanSquare + eps) : Math.sqrt(meanSquare) + eps));
    p[i] = p[i] * shrink - (mom ? (mom[i] = Math.fround(mom[i] * mu + increment)) : increment);
  }
}

/** Keras' Adagrad: acc += g^2; p -= lr g / sqrt(acc + eps) (Keras 2: / (sqrt(acc) + eps)). */
function adagradArrays(g: Float32Array, p: Float32Array, acc: Float32Array, eps: number, epsInside: boolean, lr: number, shrink: number): void {
  const n = g.length;
  for (let i = 0; i < n; i++) {
    const gi = g[i];
    const a = (acc[i] = Math.fround(acc[i] + gi * gi));
    p[i] = p[i] * shrink - (gi * lr) / (epsInside ? Math.sqrt(a + eps) : Math.sqrt(a) + eps);
  }
}

/** Keras' Adamax: m = b1 m + (1 - b1) g, u = max(b2 u, |g|), p -= lr / (1 - b1^t) m / (u + eps). */
function adamaxArrays(g: Float32Array, p: Float32Array, m: Float32Array, u: Float32Array, b1: number, b2: number, eps: number, rate: number, shrink: number): void {
  const n = g.length;
  const c1 = 1 - b1;
  for (let i = 0; i < n; i++) {
    const gi = g[i];
    const mi = (m[i] = Math.fround(m[i] * b1 + gi * c1));
    const ui = (u[i] = Math.fround(Math.max(u[i] * b2, Math.abs(gi))));
    p[i] = p[i] * shrink - (mi * rate) / (ui + eps);
  }
}

const FAMILIES: Record<string, Family> = {
  sgd: {
    cls: "SGD",
    defaults: { keras2: { lr: 0.01, momentum: 0, nesterov: false }, keras3: { lr: 0.01, momentum: 0, nesterov: false } },
    slots: () => ({ momentum: 0 }),
    update: (h, _g, { grad, param, slots, lr }) => {
      if (!h.momentum) return { param: tf.sub(param, tf.mul(grad, lr)) };
      const m = tf.sub(tf.mul(slots.momentum!, h.momentum), tf.mul(grad, lr));
      const step = h.nesterov ? tf.sub(tf.mul(m, h.momentum), tf.mul(grad, lr)) : m;
      return { param: tf.add(param, step), slots: { momentum: m } };
    },
    // ApplyKerasMomentum: accum = accum * momentum - lr * grad; var += accum (nesterov: momentum * accum - lr * grad).
    fused: (h) => h.momentum
      ? ({ lr }) => ({ op: "ResourceApplyKerasMomentum", inputs: [slot("momentum"), lr, "grad", h.momentum], flags: { use_nesterov: h.nesterov } })
      : ({ lr }) => ({ op: "ResourceApplyGradientDescent", inputs: [lr, "grad"] }),
    elementwise: (h) => (_step, lr, shrink) => (g, p, { momentum }) => sgdArrays(g, p, momentum!, h.momentum, h.nesterov, lr, shrink),
  },
  adam: {
    cls: "Adam",
    defaults: {
      keras2: { lr: 0.001, beta_1: 0.9, beta_2: 0.999, epsilon: 1e-7, amsgrad: false },
      keras3: { lr: 0.001, beta_1: 0.9, beta_2: 0.999, epsilon: 1e-7, amsgrad: false },
    },
    slots: (h) => ({ m: 0, v: 0, ...(h.amsgrad ? { v_hat: 0 } : {}) }),
    update: (h, _g, { grad, param, slots, step, lr }) => {
      // Epsilon is added to sqrt(v) before bias correction of v (PyTorch adds it after).
      const alpha = (lr * Math.sqrt(1 - h.beta_2 ** step)) / (1 - h.beta_1 ** step);
      const m = ema(slots.m!, grad, h.beta_1);
      const v = ema(slots.v!, tf.square(grad), h.beta_2);
      const vUsed = h.amsgrad ? tf.maximum(slots.v_hat!, v) : v;
      return {
        param: tf.sub(param, tf.div(tf.mul(m, alpha), tf.add(tf.sqrt(vUsed), h.epsilon))),
        slots: { m, v, ...(h.amsgrad ? { v_hat: vUsed } : {}) },
      };
    },
    // ApplyAdam: lr * sqrt(1 - beta2^t) / (1 - beta1^t) * m / (sqrt(v) + epsilon), Keras' formula.
    fused: (h) => ({ step, lr }) => ({
      op: h.amsgrad ? "ResourceApplyAdamWithAmsgrad" : "ResourceApplyAdam",
      inputs: [slot("m"), slot("v"), ...(h.amsgrad ? [slot("v_hat")] : []), h.beta_1 ** step, h.beta_2 ** step, lr, h.beta_1, h.beta_2, h.epsilon, "grad"],
    }),
    elementwise: (h) => (step, lr, shrink) => {
      const alpha = (lr * Math.sqrt(1 - h.beta_2 ** step)) / (1 - h.beta_1 ** step);
      return (g, p, { m, v, v_hat: vHat }) => adamArrays(g, p, m!, v!, vHat, h.beta_1, h.beta_2, h.epsilon, alpha, shrink);
    },
  },
  rmsprop: {
    cls: "RMSprop",
    defaults: { keras2: { lr: 0.001, rho: 0.9, epsilon: 1e-7, momentum: 0, centered: false }, keras3: { lr: 0.001, rho: 0.9, epsilon: 1e-7, momentum: 0, centered: false } },
    slots: (h) => ({ velocity: 0, ...(h.momentum ? { momentum: 0 } : {}), ...(h.centered ? { average_gradient: 0 } : {}) }),
    update: (h, gen, { grad, param, slots, lr }) => {
      const v = ema(slots.velocity!, tf.square(grad), h.rho);
      const avg = h.centered ? ema(slots.average_gradient!, grad, h.rho) : undefined;
      const meanSquare = avg ? tf.sub(v, tf.square(avg)) : v;
      const denom = gen === "keras2" ? tf.add(tf.sqrt(meanSquare), h.epsilon) : tf.sqrt(tf.add(meanSquare, h.epsilon));
      const increment = tf.div(tf.mul(grad, lr), denom);
      const next: Record<string, T> = { velocity: v, ...(avg ? { average_gradient: avg } : {}) };
      if (!h.momentum) return { param: tf.sub(param, increment), slots: next };
      const mom = tf.add(tf.mul(slots.momentum!, h.momentum), increment);
      return { param: tf.sub(param, mom), slots: { ...next, momentum: mom } };
    },
    // ApplyRMSProp: mom = momentum * mom + lr * g / sqrt(ms + epsilon); var -= mom (Keras 3's rule;
    // Keras 2 adds epsilon outside the root). Without momentum, mom is scratch: momentum 0 makes it the increment.
    fused: (h, gen) => gen === "keras3"
      ? ({ lr }) => ({
          op: h.centered ? "ResourceApplyCenteredRMSProp" : "ResourceApplyRMSProp",
          inputs: [...(h.centered ? [slot("average_gradient")] : []), slot("velocity"), slot(h.momentum ? "momentum" : "scratch_momentum"), lr, h.rho, h.momentum, h.epsilon, "grad"],
        })
      : undefined,
    elementwise: (h, gen) => (_step, lr, shrink) => (g, p, { velocity, momentum, average_gradient: avg }) =>
      rmspropArrays(g, p, velocity!, h.momentum ? momentum : undefined, h.centered ? avg : undefined, h.rho, h.epsilon, gen === "keras3", h.momentum, lr, shrink),
  },
  adagrad: {
    cls: "Adagrad",
    defaults: { keras2: { lr: 0.01, epsilon: 1e-7, initial_accumulator_value: 0 }, keras3: { lr: 0.001, epsilon: 1e-7, initial_accumulator_value: 0.1 } },
    slots: (h) => ({ accumulator: h.initial_accumulator_value }),
    update: (h, gen, { grad, param, slots, lr }) => {
      const acc = tf.add(slots.accumulator!, tf.square(grad));
      const denom = gen === "keras2" ? tf.add(tf.sqrt(acc), h.epsilon) : tf.sqrt(tf.add(acc, h.epsilon));
      return { param: tf.sub(param, tf.div(tf.mul(grad, lr), denom)), slots: { accumulator: acc } };
    },
    // Keras 2: ApplyAdagradV2, epsilon outside the root. Keras 3 adds it inside: ApplyAdagrad (no
    // epsilon) on the accumulator stored as accumulator + epsilon, sqrt((acc + eps) + g^2).
    fused: (h, gen) => gen === "keras2"
      ? ({ lr }) => ({ op: "ResourceApplyAdagradV2", inputs: [slot("accumulator"), lr, h.epsilon, "grad"], flags: { update_slots: true } })
      : ({ lr }) => ({ op: "ResourceApplyAdagrad", inputs: [slot("accumulator"), lr, "grad"], flags: { update_slots: true }, offsets: { accumulator: h.epsilon } }),
    elementwise: (h, gen) => (_step, lr, shrink) => (g, p, { accumulator }) => adagradArrays(g, p, accumulator!, h.epsilon, gen === "keras3", lr, shrink),
  },
  adadelta: {
    cls: "Adadelta",
    defaults: { keras2: { lr: 1.0, rho: 0.95, epsilon: 1e-7 }, keras3: { lr: 0.001, rho: 0.95, epsilon: 1e-7 } },
    slots: () => ({ accumulated_grad: 0, accumulated_delta_var: 0 }),
    update: (h, _g, { grad, param, slots, lr }) => {
      const rms = (x: T) => tf.sqrt(tf.add(x, h.epsilon));
      const acc = ema(slots.accumulated_grad!, tf.square(grad), h.rho);
      const delta = tf.div(tf.mul(rms(slots.accumulated_delta_var!), grad), rms(acc));
      const accDelta = ema(slots.accumulated_delta_var!, tf.square(delta), h.rho);
      return { param: tf.sub(param, tf.mul(delta, lr)), slots: { accumulated_grad: acc, accumulated_delta_var: accDelta } };
    },
    fused: (h) => ({ lr }) => ({ op: "ResourceApplyAdadelta", inputs: [slot("accumulated_grad"), slot("accumulated_delta_var"), lr, h.rho, h.epsilon, "grad"] }),
    elementwise: (h) => (_step, lr, shrink) => (g, p, { accumulated_grad: acc, accumulated_delta_var: accDelta }) => adadeltaArrays(g, p, acc!, accDelta!, h.rho, h.epsilon, 0, lr, shrink),
  },
  adamax: {
    cls: "Adamax",
    defaults: { keras2: { lr: 0.002, beta_1: 0.9, beta_2: 0.999, epsilon: 1e-7 }, keras3: { lr: 0.001, beta_1: 0.9, beta_2: 0.999, epsilon: 1e-7 } },
    slots: () => ({ m: 0, u: 0 }),
    update: (h, _g, { grad, param, slots, step, lr }) => {
      const m = ema(slots.m!, grad, h.beta_1);
      const u = tf.maximum(tf.mul(slots.u!, h.beta_2), tf.abs(grad));
      return { param: tf.sub(param, tf.div(tf.mul(m, lr / (1 - h.beta_1 ** step)), tf.add(u, h.epsilon))), slots: { m, u } };
    },
    fused: (h) => ({ step, lr }) => ({ op: "ResourceApplyAdaMax", inputs: [slot("m"), slot("u"), h.beta_1 ** step, lr, h.beta_1, h.beta_2, h.epsilon, "grad"] }),
    elementwise: (h) => (step, lr, shrink) => (g, p, { m, u }) => adamaxArrays(g, p, m!, u!, h.beta_1, h.beta_2, h.epsilon, lr / (1 - h.beta_1 ** step), shrink),
  },
};
// AdamW is Adam with a default weight decay (Keras 3: 0.004).
const ADAMW_DECAY = 0.004;

export const KERAS_OPTIMIZERS = [...Object.values(FAMILIES).map((f) => f.cls), "AdamW"];

/** Keys a saved optimizer config may carry that change nothing here when unset or default. */
const INERT = new Set(["name", "jit_compile", "is_legacy_optimizer", "ema_momentum", "ema_overwrite_frequency", "use_ema", "global_clipnorm",
  "loss_scale_factor", "gradient_accumulation_steps", "mesh", "weight_decay", "decay", "clipnorm", "clipvalue", "learning_rate", "lr"]);

/** "optim.Adam", "keras.optimizers.Adam", "adam", "Custom>Adam" -> "adam". */
const familyKey = (name: string) => name.trim().toLowerCase().replace(/^custom>/, "").replace(/^(torch\.)?(optim\.)?(tf\.)?(keras\.)?(optimizers\.)?(legacy\.)?/, "").replace(/[_\s-]/g, "");

export interface KerasOptimizerOptions {
  generation?: KerasGeneration;
  /** The saved optimizer config's `config` (Keras' own key names); unknown non-default keys are errors. */
  config?: Record<string, unknown>;
  /** Overrides the config's learning rate (compile_model_options.lr). */
  lr?: number;
}

export function kerasOptimizer(name: string, options: KerasOptimizerOptions = {}): RuleOptimizer {
  const key = familyKey(name);
  const adamw = key === "adamw";
  const family = FAMILIES[adamw ? "adam" : key];
  if (!family) throw new Error(`unknown optimizer "${name}"; known: ${KERAS_OPTIMIZERS.join(", ")}`);
  const gen = options.generation ?? "keras3";
  const cls = adamw ? "AdamW" : family.cls;
  const cfg = options.config ?? {};
  const defaults = family.defaults[gen];
  const h = { ...defaults } as Hyper;
  const num = (k: string): number | undefined => {
    const v = cfg[k];
    if (v === undefined || v === null) return undefined;
    if (typeof v === "number" && Number.isFinite(v)) return v;
    if (typeof v === "boolean") return undefined;
    throw new Error(`${cls} ${k} must be a number, got ${JSON.stringify(v)}${k.includes("learning") ? " (learning-rate schedules are not supported: set compile_model_options.lr)" : ""}`);
  };
  for (const [k, v] of Object.entries(cfg)) {
    if (k in defaults) {
      if (typeof (defaults as Record<string, unknown>)[k] === "boolean") (h as unknown as Record<string, unknown>)[k] = Boolean(v);
      else (h as unknown as Record<string, unknown>)[k] = num(k) ?? (defaults as Record<string, unknown>)[k];
    } else if (!INERT.has(k) && v !== null && v !== false && v !== 0) {
      throw new Error(`${cls}: option "${k}" (${JSON.stringify(v)}) is not supported; supported: ${Object.keys(defaults).filter((d) => d !== "lr").join(", ")}, learning_rate, weight_decay, clipnorm, clipvalue, decay`);
    }
  }
  for (const k of ["use_ema", "global_clipnorm", "gradient_accumulation_steps"]) {
    if (cfg[k]) throw new Error(`${cls}: ${k} ${JSON.stringify(cfg[k])} is not supported`);
  }
  const lr = options.lr ?? num("learning_rate") ?? num("lr") ?? h.lr;
  if (!(lr > 0)) throw new RangeError(`learning rate must be a positive number, got ${lr}`);
  const weightDecay = num("weight_decay") ?? (adamw ? ADAMW_DECAY : 0);
  const decay = num("decay") ?? 0;
  const clipnorm = num("clipnorm");
  // Keras 2 clipped by the norm of all gradients together; this seam sees one tensor at a time.
  if (clipnorm && gen === "keras2") throw new Error(`${cls}: clipnorm of Keras 2 (the global norm of all gradients) is not supported; clipvalue is`);
  const clipvalue = num("clipvalue");
  /** Clipping, Keras 2's time-based decay of lr and decoupled weight decay: the same before either path. */
  const prepare = <I extends FusedStepInput>(input: I): I => {
    let grad = input.grad;
    if (clipnorm) grad = tf.mul(grad, tf.div(clipnorm, tf.maximum(tf.norm(grad), clipnorm)));
    else if (clipvalue) grad = tf.clipByValue(grad, -clipvalue, clipvalue);
    // Keras 2's time-based decay reads the iteration count before this step.
    const stepLr = decay ? input.lr / (1 + decay * (input.step - 1)) : input.lr;
    return { ...input, grad, lr: stepLr, param: decayed(input.param, input.lr, weightDecay) };
  };
  const fusedCall = family.fused?.(h, gen);
  // Clipping and Keras 2's decay stay eager: per-tensor norms and a schedule the arrays do not see.
  const elementwise = clipnorm || clipvalue || decay ? undefined : family.elementwise?.(h, gen);
  return new RuleOptimizer({
    name: `keras.optimizers.${cls} (${gen === "keras2" ? "Keras 2.0-2.3" : "Keras 3 / tf.keras"})`,
    className: cls,
    config: { ...Object.fromEntries(Object.entries(h).filter(([k]) => k !== "lr")), weight_decay: weightDecay || null, clipnorm: clipnorm ?? null, clipvalue: clipvalue ?? null, ...(decay ? { decay } : {}) },
    slots: family.slots(h),
    recipe: { family: "keras", name, options: { generation: options.generation, config: options.config, lr: options.lr } },
    update: (input) => family.update(h, gen, prepare(input)),
    fused: fusedCall && ((input) => {
      const ready = prepare(input);
      return { call: fusedCall(ready), grad: ready.grad, param: ready.param };
    }),
    elementwise: elementwise && ((step, stepLr) => elementwise(step, stepLr, weightDecay ? 1 - stepLr * weightDecay : 1)),
  }, lr);
}
