import { describe, expect, it } from "vitest";
import { torchOptimizerFromSpec } from "../pytorch/training.js";
import { TORCH_OPTIMIZERS, torchOptimizer, torchOptimizerDefaults } from "./torch.js";

describe("torch.optim rules: defaults and arguments", () => {
  it("has torch 2.x's defaults (Adadelta: lr 1, rho 0.9, eps 1e-6; RMSprop alpha 0.99; Adagrad eps 1e-10)", () => {
    expect(torchOptimizerDefaults("optim.Adadelta")).toEqual({ lr: 1, rho: 0.9, eps: 1e-6, weight_decay: 0 });
    expect(torchOptimizerDefaults("RMSprop")).toMatchObject({ lr: 1e-2, alpha: 0.99, eps: 1e-8, momentum: 0, centered: false });
    expect(torchOptimizerDefaults("torch.optim.Adagrad")).toMatchObject({ lr: 1e-2, eps: 1e-10, initial_accumulator_value: 0 });
    expect(torchOptimizerDefaults("optim.AdamW")).toMatchObject({ weight_decay: 1e-2, betas: [0.9, 0.999] });
    expect(TORCH_OPTIMIZERS).toEqual(["optim.SGD", "optim.Adam", "optim.AdamW", "optim.RMSprop", "optim.Adagrad", "optim.Adadelta"]);
  });

  it("takes torch's keyword arguments and refuses unknown or mistyped ones, naming them", () => {
    expect(torchOptimizer("optim.SGD", { lr: 0.1, momentum: 0.9, nesterov: true }).getConfig()).toMatchObject({ lr: 0.1, momentum: 0.9, nesterov: true });
    expect(() => torchOptimizer("optim.SGD", { mommentum: 0.9 })).toThrow(/optim\.SGD has no parameter "mommentum"; it takes lr, momentum, dampening, weight_decay, nesterov/);
    expect(() => torchOptimizer("optim.Adam", { betas: 0.9 })).toThrow(/optim\.Adam betas must be a list of numbers, got 0\.9/);
    expect(() => torchOptimizer("optim.Adam", { amsgrad: "yes" })).toThrow(/amsgrad must be true or false/);
    expect(() => torchOptimizer("optim.SGD", { nesterov: true })).toThrow(/nesterov needs a momentum and zero dampening/);
    expect(() => torchOptimizer("optim.Adadelta", { lr: 0 })).toThrow(/lr must be a positive number/);
    expect(() => torchOptimizer("optim.LBFGS")).toThrow(/unsupported optimizer "optim\.LBFGS"; supported: optim\.SGD/);
  });

  it("reads a spec's optimizer as a name or as {name, ...arguments}, with learning_rate over both", () => {
    expect(torchOptimizerFromSpec({ optimizer: "optim.Adadelta" }).getConfig()).toMatchObject({ learning_rate: 1, rho: 0.9 });
    expect(torchOptimizerFromSpec({ optimizer: { name: "optim.RMSprop", momentum: 0.5, centered: true }, learning_rate: 0.003 }).getConfig())
      .toMatchObject({ learning_rate: 0.003, momentum: 0.5, centered: true, alpha: 0.99 });
    expect(torchOptimizerFromSpec({}).getClassName()).toBe("Adam");
    expect(() => torchOptimizerFromSpec({ optimizer: ["optim.SGD"] })).toThrow(/optimizer must be a name \(e\.g\. optim\.Adadelta\) or \{name: optim\.SGD/);
    expect(() => torchOptimizerFromSpec({ optimizer: "optim.SGD", lr: "fast" })).toThrow(/learning_rate must be a number, got "fast"/);
  });
});
