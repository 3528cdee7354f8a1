/**
 * The seam every Cohort optimizer sits behind: a tf.Optimizer (what tfjs-layers' `model.fit`
 * and `trainOnBatch` call) whose per-variable update is one pure function, the source
 * framework's update rule, over named state slots. TF.js' own optimizers are not used for
 * training because their rules differ from PyTorch's and Keras' (TF.js Adadelta divides by the
 * previous accumulator, so its first step is a plain gradient step of size lr).
 */
import { tf } from "../tfjs.js";
import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";
import { type FusedCall, ResourceSlots, resourceOpsAvailable } from "../native-kernels/resource-slots.js";
import { heap } from "../wasm-kernels/wasm-calls.js";

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

/** A step's inputs for a fused update: no slots (they live in TensorFlow's resources). */
export type FusedStepInput = Omit<StepInput, "slots">;

/**
 * The same update as one of TensorFlow's fused training ops: the op call, and the gradient and
 * parameter it applies to (after clipping, coupled or decoupled weight decay, done eagerly).
 * Slot names in `call.inputs` that the rule's `slots` lacks are scratch state (start at 0, not saved).
 */
export interface FusedUpdate {
  call: FusedCall;
  grad: T;
  param: T;
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
  /**
   * The exact same rule through a TensorFlow training op, used on the tensorflow backend; absent
   * where no op computes this rule (PyTorch's RMSprop adds epsilon outside the root, say).
   */
  fused?: (input: FusedStepInput) => FusedUpdate;
  /**
   * The same rule on plain arrays for step `step` at rate `lr`, where it has one (the commonest
   * rules, without gradient clipping): used by the wasm workers on their stretch of the weights.
   */
  elementwise?: (step: number, lr: number) => ElementwiseStep;
}

/**
 * One step of an update rule on float32 arrays, in place: `param` and each of the rule's slots
 * are read and written element by element, the arithmetic in double precision (so within a
 * float32 rounding or two of the eager rule, whose every kernel rounds). The wasm workers step
 * their stretch of the weights with it (wasm-parallel/optimizer-shard.ts): one pass over memory
 * where the eager rule runs about a dozen kernels, each a pass, and two workers' passes contended
 * for memory bandwidth (Adam on 600K weights: 8 ms each at once, against 4 ms for one alone).
 */
export type ElementwiseStep = (grad: Float32Array, param: Float32Array, slots: Record<string, Float32Array>) => void;

export type OptimizerRecipe =
  | { family: "keras"; name: string; options: { generation?: "keras2" | "keras3"; config?: Record<string, unknown>; lr?: number } }
  | { family: "torch"; name: string; params: Record<string, unknown> };

export class RuleOptimizer extends tf.Optimizer {
  static get className() { return "CohortRuleOptimizer"; }
  /** Read on every step, so `setLearningRate` between rounds keeps the state. */
  learningRate: number;
  private readonly state = new Map<string, Record<string, tf.Variable>>();
  /** State in TensorFlow resources, when updates run as fused ops (decided at the first step). */
  private resources: ResourceSlots | undefined;
  /** State in plain arrays by variable and slot, when updates run in the rule's elementwise form on wasm (decided at the first step). */
  private arrays: Map<string, Record<string, Float32Array>> | undefined;
  private decided = false;
  /** Copies handed out by the last getWeights (resource state, the iteration count), freed by the next one. */
  private lastRead: tf.Tensor[] = [];

  constructor(readonly rule: UpdateRule, learningRate: number) {
    super();
    this.learningRate = learningRate;
  }

  /**
   * The TensorFlow ops this optimizer's updates ran as, empty on the eager path (other backends,
   * rules without a fused op, or COHORT_FUSED_OPTIMIZER=0).
   */
  get fusedOps(): string[] {
    return [...(this.resources?.opsRun ?? [])];
  }

  /**
   * Whether updates run as one of TensorFlow's fused training ops on the backend now active (for
   * the start-up log; the optimizer decides for good at its first step).
   */
  runsFused(): boolean {
    return this.decided ? this.resources !== undefined : Boolean(this.rule.fused) && process.env.COHORT_FUSED_OPTIMIZER !== "0" && resourceOpsAvailable();
  }

  /**
   * Whether updates run in the rule's elementwise form on the wasm backend's memory: one pass
   * over each variable where the eager rule runs about a dozen kernels (Keras Adam on the seed
   * CNN's 1.2M weights: 9.7 ms a step eager). COHORT_ELEMENTWISE_OPTIMIZER=0 keeps them eager.
   */
  runsElementwise(): boolean {
    return this.decided ? this.arrays !== undefined : !this.runsFused() && Boolean(this.rule.elementwise) && tf.getBackend() === "wasm" && process.env.COHORT_ELEMENTWISE_OPTIMIZER !== "0";
  }

  private useResources(): ResourceSlots | undefined {
    if (!this.decided) {
      if (this.runsFused()) this.resources = new ResourceSlots();
      else if (this.runsElementwise()) this.arrays = this.stateAsArrays();
      this.decided = true;
    }
    return this.resources;
  }

  applyGradients(variableGradients: tf.NamedTensorMap | NamedTensor[]): void {
    const entries: [string, T][] = Array.isArray(variableGradients)
      ? variableGradients.map((g) => [g.name, g.tensor])
      : Object.entries(variableGradients);
    const step = this.iterations + 1;
    const resources = this.useResources();
    for (const [name, grad] of entries) {
      if (grad == null) continue;
      const param = tf.engine().registeredVariables[name];
      if (!param) throw new Error(`${this.rule.name}: no variable named "${name}" to update`);
      if (resources && param.dtype === "float32") {
        const fused = this.rule.fused!;
        tf.tidy(() => {
          const out = fused({ grad, param, step, lr: this.learningRate });
          param.assign(resources.apply(name, out.param, out.grad, out.call, this.rule.slots));
        });
        continue;
      }
      if (this.arrays && param.dtype === "float32" && grad.dtype === "float32") {
        this.stepArrays(name, param, grad, step);
        continue;
      }
      const slots = this.slotsFor(name, param);
      tf.tidy(() => {
        const out = this.rule.update({ grad, param, slots: { ...slots }, step, lr: this.learningRate });
        for (const [k, v] of Object.entries(out.slots ?? {})) slots[k]!.assign(v);
        param.assign(out.param);
      });
    }
    resources?.endStep();
    this.incrementIterations();
  }

  /**
   * The elementwise step on the wasm heap: the new values go into a new tensor, not the
   * variable's own memory, since XNNPACK keeps packed copies of weights by tensor id.
   */
  private stepArrays(name: string, param: tf.Variable, grad: T, step: number): void {
    const slots = this.arraySlots(name, param.size);
    const backend = tf.backend() as unknown as BackendWasm;
    // Uninitialized memory, filled from the parameter below; views after the last allocation (the heap may grow and move).
    const next = tf.engine().makeTensorFromTensorInfo(backend.makeOutput(param.shape, "float32"));
    const values = heap(backend, next);
    values.set(heap(backend, param));
    this.rule.elementwise!(step, this.learningRate)(heap(backend, grad), values, slots);
    param.assign(next);
    next.dispose();
  }

  /** Moves state set before the first step (setWeights, a worker's hand-back) from variables into arrays. */
  private stateAsArrays(): Map<string, Record<string, Float32Array>> {
    const arrays = new Map<string, Record<string, Float32Array>>();
    for (const [name, slots] of this.state) {
      arrays.set(name, Object.fromEntries(Object.entries(slots).map(([k, v]) => [k, Float32Array.from(v.dataSync() as Float32Array)])));
      tf.dispose(Object.values(slots));
    }
    this.state.clear();
    return arrays;
  }

  private arraySlots(name: string, size: number): Record<string, Float32Array> {
    let slots = this.arrays!.get(name);
    if (!slots) {
      slots = Object.fromEntries(Object.entries(this.rule.slots).map(([k, init]) => [k, new Float32Array(size).fill(init)]));
      this.arrays!.set(name, slots);
    }
    return slots;
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
    tf.dispose(this.lastRead);
    this.lastRead = [];
    this.resources?.dispose();
    this.arrays?.clear();
  }

  /** The iteration count, then each variable's slots (`<variable>/<slot>`), in the rule's slot order. */
  override async getWeights(): Promise<NamedTensor[]> {
    const slots = [...this.state.entries()].flatMap(([n, s]) => Object.entries(s).map(([k, v]) => ({ name: `${n}/${k}`, tensor: v as T })));
    tf.dispose(this.lastRead);
    this.lastRead = [];
    const resources = this.resources;
    if (resources) {
      // Only the rule's own slots: scratch slots (RMSprop's unused momentum) are not state.
      for (const n of resources.variables()) {
        for (const k of Object.keys(this.rule.slots)) {
          const tensor = resources.read(n, k);
          if (!tensor) continue;
          this.lastRead.push(tensor);
          slots.push({ name: `${n}/${k}`, tensor });
        }
      }
    }
    for (const [n, s] of this.arrays ?? []) {
      const shape = tf.engine().registeredVariables[n]?.shape;
      for (const [k, values] of Object.entries(s)) {
        const tensor = tf.tensor(values, shape && tf.util.sizeFromShape(shape) === values.length ? shape : [values.length], "float32");
        this.lastRead.push(tensor);
        slots.push({ name: `${n}/${k}`, tensor });
      }
    }
    // tfjs' saveIterations makes a new scalar each call: freed with the next call's copies too.
    const iterations = await this.saveIterations();
    this.lastRead.push(iterations.tensor);
    return [iterations, ...slots];
  }

  override async setWeights(weightValues: NamedTensor[]): Promise<void> {
    const rest = await this.extractIterations(weightValues);
    for (const { name, tensor } of rest) {
      const cut = name.lastIndexOf("/");
      const [variable, slot] = [name.slice(0, cut), name.slice(cut + 1)];
      if (this.resources) { tf.tidy(() => this.resources!.assign(variable, slot, tensor.toFloat())); continue; }
      if (this.arrays) {
        if (slot in this.rule.slots) this.arraySlots(variable, tensor.size)[slot]!.set(tensor.dataSync() as Float32Array);
        continue;
      }
      // State for a variable not stepped here yet (handed over from a worker thread) creates its slots.
      const param = tf.engine().registeredVariables[variable];
      const slots = this.state.get(variable) ?? (param ? this.slotsFor(variable, param) : undefined);
      slots?.[slot]?.assign(tensor);
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

/**
 * How a compiled model's optimizer steps, for the start-up log: Cohort's rule (`name`) as a fused
 * TensorFlow op, in its elementwise form on the wasm heap, or as eager ops; another tf.Optimizer
 * (a user module's `tf.train.adam`) steps eagerly. tf.Optimizer's `instanceof` accepts any
 * optimizer, hence the prototype check.
 */
export function optimizerUpdate(optimizer: unknown): { optimizer: string; fused: boolean; elementwise: boolean } | undefined {
  if (optimizer == null || !(optimizer instanceof tf.Optimizer)) return undefined;
  if (!Object.prototype.isPrototypeOf.call(RuleOptimizer.prototype, optimizer)) return { optimizer: optimizer.getClassName(), fused: false, elementwise: false };
  const rule = optimizer as RuleOptimizer;
  return { optimizer: rule.rule.name, fused: rule.runsFused(), elementwise: rule.runsElementwise() };
}

/** Parameter value after PyTorch/Keras-style decoupled weight decay: p * (1 - lr * wd). */
export const decayed = (param: T, lr: number, wd: number): T => (wd ? tf.mul(param, 1 - lr * wd) : param);
