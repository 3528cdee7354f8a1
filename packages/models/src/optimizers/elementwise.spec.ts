/**
 * The update rules' elementwise forms (what the wasm workers step their stretch of the weights
 * with) against the same rules' eager form, which reference.spec.ts checks against torch and
 * Keras: 6 steps from the same weights and gradients give the same weights and state within a
 * few float32 roundings.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { selectBackend } from "../backend.js";
import { tf } from "../tfjs.js";
import { kerasOptimizer } from "./keras.js";
import { relativeError as relative } from "./reference-cases.js";
import type { RuleOptimizer } from "./rule-optimizer.js";
import { torchOptimizer } from "./torch.js";

beforeAll(async () => { await selectBackend("cpu"); });

const SIZE = 257;
const STEPS = 6;
const values = (seed: number, scale: number) => Float32Array.from({ length: SIZE }, (_, i) => scale * Math.sin(seed * 12.9898 + i * 78.233));


const CASES: Array<[string, () => RuleOptimizer]> = [
  ["Keras SGD", () => kerasOptimizer("SGD", { lr: 0.1 })],
  ["Keras SGD, momentum", () => kerasOptimizer("SGD", { config: { learning_rate: 0.1, momentum: 0.9 } })],
  ["Keras SGD, Nesterov", () => kerasOptimizer("SGD", { config: { learning_rate: 0.1, momentum: 0.8, nesterov: true } })],
  ["Keras Adam", () => kerasOptimizer("Adam", { lr: 0.01 })],
  ["Keras Adam, AMSGrad", () => kerasOptimizer("Adam", { config: { learning_rate: 0.01, amsgrad: true } })],
  ["Keras AdamW (decoupled weight decay)", () => kerasOptimizer("AdamW", { lr: 0.01, config: { weight_decay: 0.1 } })],
  ["Keras 2 Adam", () => kerasOptimizer("Adam", { generation: "keras2", lr: 0.01 })],
  ["Keras RMSprop", () => kerasOptimizer("RMSprop", { lr: 0.01 })],
  ["Keras RMSprop, momentum, centered", () => kerasOptimizer("RMSprop", { config: { learning_rate: 0.01, momentum: 0.6, centered: true } })],
  ["Keras 2 RMSprop (epsilon outside the root), momentum", () => kerasOptimizer("RMSprop", { generation: "keras2", config: { learning_rate: 0.01, momentum: 0.6 } })],
  ["Keras Adagrad", () => kerasOptimizer("Adagrad", { lr: 0.05 })],
  ["Keras 2 Adagrad (epsilon outside the root)", () => kerasOptimizer("Adagrad", { generation: "keras2", lr: 0.05 })],
  ["Keras Adadelta (IBM FL's examples)", () => kerasOptimizer("Adadelta", { lr: 1.0 })],
  ["Keras Adamax, weight decay", () => kerasOptimizer("Adamax", { lr: 0.02, config: { weight_decay: 0.1 } })],
  ["torch SGD", () => torchOptimizer("optim.SGD", { lr: 0.1 })],
  ["torch SGD, momentum, dampening, weight decay", () => torchOptimizer("optim.SGD", { lr: 0.1, momentum: 0.9, dampening: 0.3, weight_decay: 0.01 })],
  ["torch SGD, Nesterov", () => torchOptimizer("optim.SGD", { lr: 0.1, momentum: 0.9, nesterov: true })],
  ["torch Adam, weight decay", () => torchOptimizer("optim.Adam", { lr: 0.01, weight_decay: 0.05 })],
  ["torch Adam, AMSGrad", () => torchOptimizer("optim.Adam", { lr: 0.01, amsgrad: true })],
  ["torch AdamW", () => torchOptimizer("optim.AdamW", { lr: 0.01 })],
  ["torch RMSprop, weight decay", () => torchOptimizer("optim.RMSprop", { lr: 0.01, weight_decay: 0.05 })],
  ["torch RMSprop, momentum, centered", () => torchOptimizer("optim.RMSprop", { lr: 0.01, momentum: 0.6, centered: true })],
  ["torch Adagrad, lr decay, weight decay", () => torchOptimizer("optim.Adagrad", { lr: 0.05, lr_decay: 0.1, weight_decay: 0.05, initial_accumulator_value: 0.2 })],
  ["torch Adadelta, weight decay", () => torchOptimizer("optim.Adadelta", { lr: 1.0, weight_decay: 0.05 })],
];

describe("elementwise update rules", () => {
  it.each(CASES)("%s steps as its eager rule does", async (_name, make) => {
    const eager = make();
    const rule = make().rule;
    expect(rule.elementwise).toBeDefined();
    const name = `elementwise_${Math.random().toString(36).slice(2)}`;
    const variable = tf.variable(tf.tensor1d(values(1, 0.5)), true, name);
    const param = values(1, 0.5);
    const slots = Object.fromEntries(Object.entries(rule.slots).map(([k, init]) => [k, new Float32Array(SIZE).fill(init)]));
    for (let step = 1; step <= STEPS; step++) {
      // Gradients of mixed sign and size, some near zero, changing every step.
      const grad = values(step + 1, step % 2 ? 1 : 1e-3);
      tf.tidy(() => eager.applyGradients({ [name]: tf.tensor1d(grad) }));
      rule.elementwise!(step, eager.learningRate)(grad, param, slots);
    }
    const moved = relative(param, values(1, 0.5));
    expect(moved).toBeGreaterThan(1e-3); // the comparison below could fail
    expect(relative(param, variable.dataSync())).toBeLessThan(1e-6);
    const state = await eager.getWeights();
    for (const slot of Object.keys(rule.slots)) {
      const held = state.find((w) => w.name === `${name}/${slot}`);
      expect(held, slot).toBeDefined();
      expect(relative(slots[slot]!, held!.tensor.dataSync()), slot).toBeLessThan(1e-6);
    }
    eager.dispose();
    variable.dispose();
  });

  it("leaves out what needs a whole tensor or a schedule: clipping and Keras 2's decay", () => {
    expect(kerasOptimizer("Adam", { config: { clipnorm: 1 } }).rule.elementwise).toBeUndefined();
    expect(kerasOptimizer("Adam", { config: { clipvalue: 1 } }).rule.elementwise).toBeUndefined();
    expect(kerasOptimizer("SGD", { generation: "keras2", config: { decay: 0.01 } }).rule.elementwise).toBeUndefined();
    expect(kerasOptimizer("RMSprop", { config: { clipnorm: 1 } }).rule.elementwise).toBeUndefined();
  });
});
