import { type Manifest, elementCount } from "@cohort/tensors";
import { decodeInto, encodeInto, isFloat, slicePlan } from "../numeric-slices.js";
import type { FusionStrategy, RoundInput, StrategyState, TrainConfig } from "../strategy.js";

/** Elements per step: the float64 buffers of a slice stay small whatever the model. */
const STEP_ELEMENTS = 1 << 16;

export type ServerOptimizerName = "fedadam" | "fedyogi" | "fedadagrad" | "fedavgm";

export interface ServerOptimizerParams {
  /** Server learning rate (eta). */
  eta: number;
  beta1: number;
  beta2: number;
  /** Adaptivity (tau): how far v may shrink the step. */
  tau: number;
  /** FedAvgM's server momentum. */
  momentum: number;
}

export const SERVER_OPTIMIZER_DEFAULTS: Readonly<Record<ServerOptimizerName, ServerOptimizerParams>> = {
  fedadam: { eta: 0.01, beta1: 0.9, beta2: 0.99, tau: 1e-3, momentum: 0 },
  fedyogi: { eta: 0.01, beta1: 0.9, beta2: 0.99, tau: 1e-3, momentum: 0 },
  fedadagrad: { eta: 0.01, beta1: 0.9, beta2: 0.99, tau: 1e-3, momentum: 0 },
  fedavgm: { eta: 1, beta1: 0, beta2: 0, tau: 0, momentum: 0.9 },
};

/**
 * Adaptive server optimizers (Reddi et al., "Adaptive Federated Optimization", Algorithm 2) and
 * FedAvgM (Hsu et al.): the round's example-weighted mean is folded as FedAvg folds it; its
 * difference from the previous global model, delta, is a pseudo-gradient the server steps along:
 *
 *   m = beta1 m + (1 - beta1) delta
 *   v = v + delta^2                                   (FedAdagrad)
 *   v = beta2 v + (1 - beta2) delta^2                 (FedAdam)
 *   v = v - (1 - beta2) delta^2 sign(v - delta^2)     (FedYogi)
 *   x = x + eta m / (sqrt(v) + tau)                   m = 0 and v = tau^2 before the first round
 *
 *   FedAvgM: m = momentum m + delta; x = x + eta m
 *
 * Only floating-point tensors move this way; integer tensors take the mean. The state (m, and v
 * for the adaptive three) is float64 in memory, one value per weight: 8 (FedAvgM) or 16 bytes
 * per weight; it is checkpointed with every round's model (saveState) and restored on resume, so a
 * resumed run steps exactly as an uninterrupted one.
 */
export class ServerOptimizerStrategy implements FusionStrategy {
  readonly mode = "stream";
  readonly params: ServerOptimizerParams;
  private m: Float64Array | undefined;
  private v: Float64Array | undefined;

  constructor(readonly name: ServerOptimizerName, params: Partial<ServerOptimizerParams> = {}) {
    this.params = { ...SERVER_OPTIMIZER_DEFAULTS[name], ...params };
    const { eta, beta1, beta2, tau, momentum } = this.params;
    if (!(eta > 0) || !Number.isFinite(eta)) throw new RangeError(`${name} eta must be > 0, got ${eta}`);
    for (const [key, value] of [["beta1", beta1], ["beta2", beta2], ["momentum", momentum]] as const) {
      if (!(value >= 0 && value < 1)) throw new RangeError(`${name} ${key} must be in [0, 1), got ${value}`);
    }
    if (!(tau >= 0) || !Number.isFinite(tau)) throw new RangeError(`${name} tau must be >= 0, got ${tau}`);
  }

  configureTrain(): TrainConfig {
    return { proximalMu: 0 };
  }

  weightOf({ numExamples }: { numExamples: number }): number {
    return numExamples;
  }

  async *aggregate(input: RoundInput): AsyncGenerator<Uint8Array, void, undefined> {
    const sum = input.sum;
    if (!sum) throw new Error(`${this.name}: the round has no sum`);
    this.ensureState(input.manifest);
    const mean = new Float64Array(STEP_ELEMENTS);
    const x = new Float64Array(STEP_ELEMENTS);
    const bytes = new Uint8Array(STEP_ELEMENTS * 8);
    for (const entry of slicePlan(input.manifest, STEP_ELEMENTS)) {
      const n = entry.elements;
      const meanOf = mean.subarray(0, n);
      sum.meanInto(entry.element, meanOf);
      if (isFloat(entry.dtype)) {
        decodeInto(entry.dtype, await input.previous.read(entry.offset, entry.bytes), x);
        this.step(entry.element, meanOf, x);
        yield encodeInto(entry.dtype, x.subarray(0, n), bytes);
      } else {
        yield encodeInto(entry.dtype, meanOf, bytes);
      }
    }
  }

  saveState(): StrategyState | undefined {
    if (!this.m) return undefined;
    return { strategy: this.name, arrays: this.v ? [{ name: "m", values: this.m }, { name: "v", values: this.v }] : [{ name: "m", values: this.m }] };
  }

  restoreState(state: StrategyState, manifest: Manifest): void {
    const elements = manifest.tensors.reduce((total, t) => total + elementCount(t.shape), 0);
    const wanted = this.name === "fedavgm" ? ["m"] : ["m", "v"];
    if (state.strategy !== this.name) throw new RangeError(`${this.name} cannot take the state of ${state.strategy}`);
    const names = state.arrays.map((a) => a.name);
    if (names.join() !== wanted.join()) throw new RangeError(`${this.name} state holds ${names.join(", ") || "nothing"}, expected ${wanted.join(", ")}`);
    for (const { name, values } of state.arrays) {
      if (values.length !== elements) throw new RangeError(`${this.name} state ${name} has ${values.length} values, the model ${elements} weights`);
    }
    this.m = Float64Array.from(state.arrays[0].values);
    this.v = state.arrays[1] ? Float64Array.from(state.arrays[1].values) : undefined;
  }

  private ensureState(manifest: Manifest): void {
    const elements = manifest.tensors.reduce((total, t) => total + elementCount(t.shape), 0);
    if (this.m?.length === elements) return;
    this.m = new Float64Array(elements);
    if (this.name !== "fedavgm") this.v = new Float64Array(elements).fill(this.params.tau * this.params.tau);
  }

  /** x[j] (the previous weights) becomes the new weights of elements [start, start + mean.length). */
  private step(start: number, mean: Float64Array, x: Float64Array): void {
    const { eta, beta1, beta2, tau, momentum } = this.params;
    const m = this.m!;
    const v = this.v;
    for (let j = 0; j < mean.length; j++) {
      const delta = mean[j] - x[j];
      const i = start + j;
      if (this.name === "fedavgm") {
        m[i] = momentum * m[i] + delta;
        x[j] += eta * m[i];
        continue;
      }
      m[i] = beta1 * m[i] + (1 - beta1) * delta;
      const d2 = delta * delta;
      if (this.name === "fedadagrad") v![i] += d2;
      else if (this.name === "fedadam") v![i] = beta2 * v![i] + (1 - beta2) * d2;
      else v![i] -= (1 - beta2) * d2 * Math.sign(v![i] - d2);
      x[j] += (eta * m[i]) / (Math.sqrt(v![i]) + tau);
    }
  }
}
