/**
 * The optimizer reference cases (reference-cases.ts) on the tensorflow backend, where every rule
 * that one of TensorFlow's training ops computes exactly runs as that op (RuleOptimizer with
 * ResourceSlots): the same 1e-4 bound against torch 2.13 and Keras 3.15 as on the cpu backend.
 * Runs where a tfjs-node binding is built; CI requires it with COHORT_EXPECT_TENSORFLOW=1.
 */
import { describe, expect, it } from "vitest";
import { installedNativeBinding } from "../backend.js";
import { describeReferenceCases } from "./reference-cases.js";

const native = installedNativeBinding();
const skipped = native ? "" : " (skipped: no tfjs-node binding is built here; `cohort backend install tensorflow` builds one)";

/** The op each case's rule must run as; cases not listed have no exact TensorFlow op and stay eager. */
const FUSED: Record<string, string[]> = {
  "torch sgd_plain": ["ResourceApplyGradientDescent"],
  "torch sgd_momentum_dampening_wd": ["ResourceApplyMomentum"],
  "torch sgd_nesterov": ["ResourceApplyMomentum"],
  "torch adam_default": ["ResourceApplyAdam"],
  "torch adam_amsgrad_wd": ["ResourceApplyAdamWithAmsgrad"],
  "torch adamw_default": ["ResourceApplyAdam"],
  "torch adagrad_default": ["ResourceApplyAdagradV2"],
  "torch adagrad_decay_init": ["ResourceApplyAdagradV2"],
  "torch adadelta_ibmfl": ["ResourceApplyAdadelta"],
  "torch adadelta_rho_wd": ["ResourceApplyAdadelta"],
  "keras sgd_momentum": ["ResourceApplyKerasMomentum"],
  "keras sgd_nesterov_wd": ["ResourceApplyKerasMomentum"],
  "keras adam_default": ["ResourceApplyAdam"],
  "keras adam_amsgrad_clipnorm": ["ResourceApplyAdamWithAmsgrad"],
  "keras adamw_default": ["ResourceApplyAdam"],
  "keras rmsprop_default": ["ResourceApplyRMSProp"],
  "keras rmsprop_momentum_centered": ["ResourceApplyCenteredRMSProp"],
  "keras adagrad_default": ["ResourceApplyAdagrad"],
  "keras adadelta_default": ["ResourceApplyAdadelta"],
  "keras adadelta_keras2_defaults": ["ResourceApplyAdadelta"],
  "keras adamax_clipvalue": ["ResourceApplyAdaMax"],
  // torch RMSprop adds epsilon where no TensorFlow op does: eager.
};

// CI sets COHORT_EXPECT_TENSORFLOW=1 after building the binding: a missing one fails there.
it.runIf(process.env.COHORT_EXPECT_TENSORFLOW === "1" && !native)("has a tfjs-node binding (COHORT_EXPECT_TENSORFLOW=1)", () => {
  expect.fail("no @tensorflow/tfjs-node(-gpu) binding is built: run cohort backend install tensorflow");
});

// COHORT_FUSED_OPTIMIZER=0 runs every rule eagerly on this backend (to compare the two paths).
const eager = process.env.COHORT_FUSED_OPTIMIZER === "0";

describe.skipIf(!native)(`optimizer reference cases on the tensorflow backend${eager ? ", fused ops off" : ""}${skipped}`, () => {
  describeReferenceCases({
    backend: "tensorflow",
    checkFused: (framework, name, ops) => expect(ops, `${framework} ${name}: TensorFlow ops run`).toEqual(eager ? [] : FUSED[`${framework} ${name}`] ?? []),
  });
});
