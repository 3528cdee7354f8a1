/**
 * The optimizer reference cases (reference-cases.ts) on the wasm backend, where the rules with an
 * elementwise form step in it (RuleOptimizer with its state in arrays): the same 1e-4 bound
 * against torch 2.13 and Keras 3.15 as on the cpu backend, where every rule steps eagerly.
 */
import { expect } from "vitest";
import { describeReferenceCases } from "./reference-cases.js";

/** The cases whose rule has an elementwise form; the others (clipping, RMSprop, Adagrad, ...) stay eager. */
const ELEMENTWISE = new Set([
  "torch sgd_plain", "torch sgd_momentum_dampening_wd", "torch sgd_nesterov", "torch adam_default", "torch adam_amsgrad_wd", "torch adamw_default",
  "keras sgd_momentum", "keras sgd_nesterov_wd", "keras adam_default", "keras adamw_default",
]);

describeReferenceCases({
  backend: "wasm",
  checkElementwise: (framework, name, elementwise) => expect(elementwise, `${framework} ${name}`).toBe(ELEMENTWISE.has(`${framework} ${name}`)),
});
