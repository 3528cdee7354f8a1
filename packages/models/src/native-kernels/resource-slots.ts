/**
 * Optimizer state in TensorFlow resource variables, on the tensorflow backend (tfjs-node), so
 * that a rule's update runs as one of TensorFlow's fused training ops (ResourceApplyAdam, ...):
 * one kernel per variable instead of 10-15 eager element-wise ops (Adam on the seed CNN's
 * 1.2M-weight dense kernel: about 1.5 ms against 13 ms here). Those ops only take resource (or
 * reference) variables, so each trained variable gets a resource for its value and one per state
 * slot. The tfjs variable stays the weight's home (layers, setWeights and the upload read it):
 * its value is assigned to the resource before the op and read back after it. The slots live only
 * in the resources; `read` and `assign` serve the optimizer's getWeights / setWeights.
 */
import { tf } from "../tfjs.js";
import type { NativeBackend, OpAttr } from "./native-backend.js";

/** One input of a fused op after the variable: a scalar, a state slot by name, or the gradient. */
export type FusedInput = number | { slot: string } | "grad";

/** A fused training op call: `op(var, ...inputs)` with `T: float32`, `use_locking: false` and `flags`. */
export interface FusedCall {
  op: string;
  inputs: FusedInput[];
  /** Boolean attributes besides use_locking (use_nesterov, update_slots). */
  flags?: Record<string, boolean>;
  /**
   * Slots the op holds shifted: its resource stores the slot's value + offset (Keras 3 Adagrad's
   * accumulator + epsilon, so that ApplyAdagrad's sqrt(accum) is Keras' sqrt(accumulator +
   * epsilon)). Reads and writes of the state see the unshifted value.
   */
  offsets?: Record<string, number>;
}

interface Resources {
  param: tf.Tensor;
  slots: Map<string, tf.Tensor>;
  /** The slots' offsets (FusedCall.offsets), fixed when each slot is created. */
  offsets: Map<string, number>;
  /** The tfjs tensor last read back from `param`: while the weight still holds it, no assign is needed. */
  lastValue?: object;
}

/** What the binding exposes beyond the single-output call the kernels use. */
interface ResourceBackend extends NativeBackend {
  binding: NativeBackend["binding"] & { TF_ATTR_SHAPE: number; TF_ATTR_BOOL: number };
  executeMultipleOutputs(name: string, opAttrs: OpAttr[], inputs: tf.TensorInfo[], numOutputs: number): tf.Tensor[];
}

/** True where `ResourceSlots` can run: the active backend is tfjs-node's. */
export function resourceOpsAvailable(): boolean {
  if (tf.getBackend() !== "tensorflow") return false;
  const backend = tf.backend() as unknown as Partial<ResourceBackend>;
  return typeof backend.executeMultipleOutputs === "function" && backend.binding?.TF_ATTR_SHAPE !== undefined;
}

// Resource names are per process; eager handles to the same shared_name would alias.
let created = 0;

export class ResourceSlots {
  private readonly backend = tf.backend() as unknown as ResourceBackend;
  private readonly vars = new Map<string, Resources>();
  /** Ops run so far (for logs and tests: which updates took the fused path). */
  readonly opsRun = new Set<string>();
  /** The step's scalar inputs by value: lr, betas and epsilon are the same for every variable. */
  private readonly scalars = new Map<number, tf.Tensor>();

  /** The variables that have resources (those stepped at least once). */
  variables(): string[] {
    return [...this.vars.keys()];
  }

  /**
   * Runs `call` on the variable `name`: assigns `param` (the value to update: the tfjs variable's,
   * or its decayed value) to its resource unless the resource produced it, runs the op, and
   * returns the updated value as a new tensor. Slots are created on first use with
   * `initial[slot]` (0 for scratch slots).
   */
  apply(name: string, param: tf.Tensor, grad: tf.Tensor, call: FusedCall, initial: Record<string, number>): tf.Tensor {
    const res = this.resourcesFor(name, param.shape);
    const inputs = call.inputs.map((input) => {
      if (input === "grad") return grad;
      if (typeof input === "number") return this.scalar(input);
      let slot = res.slots.get(input.slot);
      if (!slot) {
        const offset = call.offsets?.[input.slot] ?? 0;
        slot = this.newResource(param.shape);
        this.assignTo(slot, tf.tidy(() => tf.fill(param.shape, (initial[input.slot] ?? 0) + offset, "float32")), true);
        res.slots.set(input.slot, slot);
        if (offset) res.offsets.set(input.slot, offset);
      }
      return slot;
    });
    // The weight changes outside the optimizer (setWeights of a new global model, decoupled decay
    // making a new tensor): then its value goes to the resource first.
    if (res.lastValue !== param.dataId) this.assignTo(res.param, param);
    const b = this.backend.binding;
    const attrs: OpAttr[] = [
      { name: "T", type: b.TF_ATTR_TYPE, value: b.TF_FLOAT },
      { name: "use_locking", type: b.TF_ATTR_BOOL, value: false },
      ...Object.entries(call.flags ?? {}).map(([k, v]) => ({ name: k, type: b.TF_ATTR_BOOL, value: v })),
    ];
    this.backend.executeMultipleOutputs(call.op, attrs, [res.param, ...inputs], 0);
    this.opsRun.add(call.op);
    const updated = this.readFrom(res.param);
    res.lastValue = updated.dataId;
    return updated;
  }

  /** Frees the step's scalars; call after the step's last `apply`. */
  endStep(): void {
    tf.dispose([...this.scalars.values()]);
    this.scalars.clear();
  }

  private scalar(value: number): tf.Tensor {
    let s = this.scalars.get(value);
    if (!s) {
      s = tf.keep(tf.scalar(value, "float32"));
      this.scalars.set(value, s);
    }
    return s;
  }

  /** A copy of slot `slot` of variable `name` (undefined before its first step). */
  read(name: string, slot: string): tf.Tensor | undefined {
    const res = this.vars.get(name);
    const handle = res?.slots.get(slot);
    if (!handle) return undefined;
    const offset = res!.offsets.get(slot);
    return offset ? tf.tidy(() => tf.sub(this.readFrom(handle), offset)) : this.readFrom(handle);
  }

  /** Sets slot `slot` of `name` to `value`; false when that slot does not exist (yet). */
  assign(name: string, slot: string, value: tf.Tensor): boolean {
    const res = this.vars.get(name);
    const handle = res?.slots.get(slot);
    if (!handle) return false;
    const offset = res!.offsets.get(slot);
    tf.tidy(() => this.assignTo(handle, offset ? tf.add(value, offset) : value));
    return true;
  }

  /** Frees every resource (TensorFlow keeps a named resource until it is destroyed). */
  dispose(): void {
    this.endStep();
    const b = this.backend.binding;
    for (const res of this.vars.values()) {
      for (const handle of [res.param, ...res.slots.values()]) {
        this.backend.executeMultipleOutputs("DestroyResourceOp", [{ name: "ignore_lookup_error", type: b.TF_ATTR_BOOL, value: true }], [handle], 0);
        handle.dispose();
      }
    }
    this.vars.clear();
  }

  private resourcesFor(name: string, shape: number[]): Resources {
    let res = this.vars.get(name);
    if (!res) {
      res = { param: this.newResource(shape), slots: new Map(), offsets: new Map() };
      this.vars.set(name, res);
    }
    return res;
  }

  /** A handle that outlives the tf.tidy of the step that creates it. */
  private newResource(shape: number[]): tf.Tensor {
    const b = this.backend.binding;
    return tf.keep(this.backend.executeSingleOutput("VarHandleOp", [
      { name: "container", type: b.TF_ATTR_STRING, value: "" },
      { name: "shared_name", type: b.TF_ATTR_STRING, value: `cohort_optimizer_${process.pid}_${created++}` },
      { name: "dtype", type: b.TF_ATTR_TYPE, value: b.TF_FLOAT },
      { name: "shape", type: b.TF_ATTR_SHAPE, value: shape },
    ], []));
  }

  private dtypeAttr(): OpAttr[] {
    return [{ name: "dtype", type: this.backend.binding.TF_ATTR_TYPE, value: this.backend.binding.TF_FLOAT }];
  }

  private assignTo(handle: tf.Tensor, value: tf.Tensor, disposeValue = false): void {
    this.backend.executeMultipleOutputs("AssignVariableOp", this.dtypeAttr(), [handle, value], 0);
    if (disposeValue) value.dispose();
  }

  private readFrom(handle: tf.Tensor): tf.Tensor {
    return this.backend.executeSingleOutput("ReadVariableOp", this.dtypeAttr(), [handle]);
  }
}
