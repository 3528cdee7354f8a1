/**
 * Cohort's optimizers and losses against the frameworks' own training: from the same initial
 * weights, the same batches give the same weights after each of 4 steps, within 1e-4 of each
 * tensor's largest value. The references come from testdata/optimizers/gen.py (torch 2.13,
 * Keras 3.15); models are loaded through the real loaders and compiled from the real specs
 * (PyTorch) or from the file's own compile config (Keras 3 .keras). The cases live in
 * reference-cases.ts; reference-tensorflow.spec.ts runs them on the tensorflow backend.
 */
import { describeReferenceCases } from "./reference-cases.js";

describeReferenceCases({ backend: "cpu" });
