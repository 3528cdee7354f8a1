/**
 * The optimizer reference cases (reference-cases.ts) on the wasm backend, where the rules with an
 * elementwise form step in it (RuleOptimizer with its state in arrays): the same 1e-4 bound
 * against torch 2.13 and Keras 3.15 as on the cpu backend, where every rule steps eagerly.
 */
import { expect } from "vitest";
import { describeReferenceCases } from "./reference-cases.js";

/** The cases that stay eager: clipping needs the whole tensor's norm or is left to the eager rule; every other rule has an elementwise form. */
const EAGER = new Set(["keras adam_amsgrad_clipnorm", "keras adamax_clipvalue"]);

describeReferenceCases({
  backend: "wasm",
  checkElementwise: (framework, name, elementwise) => expect(elementwise, `${framework} ${name}`).toBe(!EAGER.has(`${framework} ${name}`)),
});
