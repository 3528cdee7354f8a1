/**
 * The seam every Cohort optimizer sits behind: a tf.Optimizer (what tfjs-layers' `model.fit`
 * and `trainOnBatch` call) whose per-variable update is one pure function, the source
 * framework's update rule, over named state slots. TF.js' own optimizers are not used for
 * training because their rules differ from PyTorch's and Keras' (TF.js Adadelta divides by the
 * previous accumulator, so its first step is a plain gradient step of size lr).
 */
import { tf } from "../tfjs.js";

type T = tf.Tensor;
type NamedTensor = { name: string; tensor: tf.Tensor };

/** One update: the gradient, the parameter, its state slots, the 1-based step and the rate. */
export interface StepInput {
  grad: T;
  param: T;
  /** State slots by name, created with `initialSlot` on first use. */
  slots: Record<string, T>;
  step: number;
  lr: number;
}

/** New parameter value and new slot values (slots left out keep theirs). */
export interface StepOutput {
  param: T;
  slots?: Record<string, T>;
}

export interface UpdateRule {
  /** Full name shown in errors and logs ("torch.optim.Adadelta", "keras.optimizers.Adadelta (Keras 3 / tf.keras)"). */
  readonly name: string;
  /** The framework's class name ("Adadelta"): what exporters write as the optimizer's class. */
  readonly className: string;
  /** Hyperparameters, with the framework's key names, for logs and exported training configs. */
  readonly config: Record<string, unknown>;
  /** State slots per parameter and their initial value (a constant). */
  readonly slots: Record<string, number>;
  /** Pure function of its inputs, run inside tf.tidy. */
  update(input: StepInput): StepOutput;
  /**
   * How to build this rule again elsewhere (a wasm worker thread): the factory and its arguments,
   * plain data, since `update` is a closure that cannot be sent.
   */
  readonly recipe?: OptimizerRecipe;
}

export type OptimizerRecipe =
  | { family: "keras"; name: string; options: { generation?: "keras2" | "keras3"; config?: Record<string, unknown>; lr?: number } }
  | { family: "torch"; name: string; params: Record<string, unknown> };

export class RuleOptimizer extends tf.Optimizer {
  static get className() { return "CohortRuleOptimizer"; }
  /** Read on every step, so `setLearningRate` between rounds keeps the state. */
  learningRate: number;
  private readonly state = new Map<string, Record<string, tf.Variable>>();

  constructor(readonly rule: UpdateRule, learningRate: number) {
    super();
    this.learningRate = learningRate;
  }

  applyGradients(variableGradients: tf.NamedTensorMap | NamedTensor[]): void {
    const entries: [string, T][] = Array.isArray(variableGradients)
      ? variableGradients.map((g) => [g.name, g.tensor])
      : Object.entries(variableGradients);
    const step = this.iterations + 1;
    for (const [name, grad] of entries) {
      if (grad == null) continue;
      const param = tf.engine().registeredVariables[name];
      if (!param) throw new Error(`${this.rule.name}: no variable named "${name}" to update`);
      const slots = this.slotsFor(name, param);
      tf.tidy(() => {
        const out = this.rule.update({ grad, param, slots: { ...slots }, step, lr: this.learningRate });
        for (const [k, v] of Object.entries(out.slots ?? {})) slots[k]!.assign(v);
        param.assign(out.param);
      });
    }
    this.incrementIterations();
  }

  private slotsFor(name: string, param: tf.Variable): Record<string, tf.Variable> {
    let slots = this.state.get(name);
    if (!slots) {
      slots = Object.fromEntries(Object.entries(this.rule.slots).map(([k, init]) =>
        [k, tf.tidy(() => tf.fill(param.shape, init, "float32").variable(false))]));
      this.state.set(name, slots);
    }
    return slots;
  }

  override dispose(): void {
    for (const slots of this.state.values()) tf.dispose(Object.values(slots));
    this.state.clear();
  }

  override async getWeights(): Promise<NamedTensor[]> {
    const slots = [...this.state.entries()].flatMap(([n, s]) => Object.entries(s).map(([k, v]) => ({ name: `${n}/${k}`, tensor: v as T })));
    return [await this.saveIterations(), ...slots];
  }

  override async setWeights(weightValues: NamedTensor[]): Promise<void> {
    const rest = await this.extractIterations(weightValues);
    for (const { name, tensor } of rest) {
      const cut = name.lastIndexOf("/");
      const variable = name.slice(0, cut);
      // State for a variable not stepped here yet (handed over from a worker thread) creates its slots.
      const param = tf.engine().registeredVariables[variable];
      const slots = this.state.get(variable) ?? (param ? this.slotsFor(variable, param) : undefined);
      slots?.[name.slice(cut + 1)]?.assign(tensor);
    }
  }

  /** The framework's class name, so exported training configs name "Adam", not this class. */
  override getClassName(): string {
    return this.rule.className;
  }

  getConfig(): tf.serialization.ConfigDict {
    return { ...(this.rule.config as tf.serialization.ConfigDict), learning_rate: this.learningRate };
  }
}

/** Parameter value after PyTorch/Keras-style decoupled weight decay: p * (1 - lr * wd). */
export const decayed = (param: T, lr: number, wd: number): T => (wd ? tf.mul(param, 1 - lr * wd) : param);
