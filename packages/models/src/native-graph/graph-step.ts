/**
 * Runs a model's training step as one TensorFlow graph in a TF_Session of tfjs-node's binding
 * (LoadSavedModel / RunSavedModel): the graph from training-graph.ts is written as a SavedModel
 * (saved_model.pb only, no variables) into a private temporary directory, loaded, and the
 * directory removed. Each step feeds the model's weight tensors, the batch and the dropout seeds
 * by their binding ids (no copy on CPU) and returns new tfjs tensors. One session run per batch
 * instead of one eager dispatch per op, and grappler's fusions: the gap to Keras' graph mode.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { type LayersModel, tf } from "../tfjs.js";
import { encodeSavedModel } from "./graph-def-writer.js";
import { type LayerPlan, type MovingStats, planLayers } from "./layer-plan.js";
import { buildTrainingGraph, type TrainingGraph } from "./training-graph.js";

/** The parts of tfjs-node's NodeJSKernelBackend (not exported with types) a session run needs. */
interface SessionBackend {
  binding: {
    loadSavedModel(dir: string, tags: string): number;
    runSavedModel(id: number, inputIds: number[], inputNames: string, outputNames: string): Array<{ id: number; shape: number[]; dtype: number }>;
    deleteSavedModel(id: number): void;
  };
  getInputTensorIds(tensors: tf.Tensor[]): number[];
  createOutputTensor(info: { id: number; shape: number[]; dtype: number }): tf.Tensor;
}

export interface GraphStepResult {
  /** The batch's mean loss (scalar). */
  loss: tf.Tensor;
  /** Correct predictions in the batch (scalar), when the model reports accuracy. */
  correct?: tf.Tensor;
  /** d loss / d weight, in model.trainableWeights order. */
  grads: tf.Tensor[];
}

function sessionBackend(): SessionBackend | string {
  if (tf.getBackend() !== "tensorflow") return `the backend is ${tf.getBackend()}, not tensorflow`;
  const backend = tf.backend() as unknown as Partial<SessionBackend>;
  if (typeof backend.binding?.loadSavedModel !== "function" || typeof backend.binding.runSavedModel !== "function") return "tfjs-node's binding has no SavedModel session";
  return backend as SessionBackend;
}

export class GraphTrainingStep {
  private sessionId: number | undefined;
  private readonly inputNames: string;
  private readonly outputNames: string;

  private constructor(private readonly model: LayersModel, private readonly backend: SessionBackend, graph: TrainingGraph, readonly accuracy: boolean, readonly dropouts: number, private readonly norms: MovingStats[]) {
    this.inputNames = graph.inputs.join(",");
    this.outputNames = graph.outputs.join(",");
    const dir = mkdtempSync(path.join(tmpdir(), "cohort-graph-"));
    try {
      writeFileSync(path.join(dir, "saved_model.pb"), encodeSavedModel(graph.builder.nodes), { mode: 0o600 });
      this.sessionId = backend.binding.loadSavedModel(dir, "serve");
    } finally {
      // The session holds the graph in memory; nothing reads the directory after loading.
      rmSync(dir, { recursive: true, force: true });
    }
  }

  /** A step for `model`, or the reason (string) it trains with fit instead. */
  static create(model: LayersModel): GraphTrainingStep | string {
    if (process.env.COHORT_GRAPH_TRAINING === "0") return "COHORT_GRAPH_TRAINING=0";
    const backend = sessionBackend();
    if (typeof backend === "string") return backend;
    const message = (err: unknown) => (err instanceof Error ? err.message : String(err));
    let built: { plan: LayerPlan; graph: TrainingGraph };
    try {
      const plan = planLayers(model);
      if (typeof plan === "string") return plan;
      built = { plan, graph: buildTrainingGraph(plan, model.trainableWeights.map((w) => w.shape as number[])) };
    } catch (err) {
      // A model the planner misreads should still train (with fit), with the reason in the log.
      return `the graph trainer could not build this model's graph: ${message(err)}`;
    }
    try {
      return new GraphTrainingStep(model, backend, built.graph, built.plan.accuracy, built.plan.dropouts, built.plan.norms);
    } catch (err) {
      // E.g. a TensorFlow C library without one of the graph's ops: train with fit, and say so.
      return `TensorFlow did not load the training graph: ${message(err)}`;
    }
  }

  /**
   * Loss, correct count and gradients of one batch at the model's current weights. `seeds` holds
   * one [a, b] int32 pair per Dropout layer (its mask for this batch). Like a training-mode pass
   * of tfjs-layers, it moves the BatchNormalization layers' moving statistics toward the batch's.
   */
  run(x: tf.Tensor, y: tf.Tensor, seeds: Array<[number, number]>): GraphStepResult {
    if (this.sessionId === undefined) throw new Error("graph training step used after dispose()");
    if (seeds.length !== this.dropouts) throw new Error(`graph training step: ${seeds.length} dropout seeds for ${this.dropouts} Dropout layers`);
    const seedTensors = seeds.map((s) => tf.tensor1d(s, "int32"));
    try {
      const inputs = [...this.model.trainableWeights.map((w) => w.read()), x, y, ...seedTensors];
      const ids = this.backend.getInputTensorIds(inputs);
      const outs = this.backend.binding.runSavedModel(this.sessionId, ids, this.inputNames, this.outputNames).map((info) => this.backend.createOutputTensor(info));
      const [loss, ...rest] = outs;
      const correct = this.accuracy ? rest.shift() : undefined;
      const stats = rest.splice(this.model.trainableWeights.length);
      this.moveStatistics(stats);
      return { loss: loss!, correct, grads: rest };
    } finally {
      tf.dispose(seedTensors);
    }
  }

  /** tfjs-layers' update: moving <- moving - (moving - batch) * (1 - momentum), for each mean and variance. */
  private moveStatistics(stats: tf.Tensor[]): void {
    tf.tidy(() => {
      this.norms.forEach((norm, k) => {
        for (const [variable, batch] of [[norm.mean, stats[2 * k]!], [norm.variance, stats[2 * k + 1]!]] as const) {
          const moving = variable.read();
          variable.write(tf.sub(moving, tf.mul(tf.sub(moving, batch), 1 - norm.momentum)));
        }
      });
    });
    tf.dispose(stats);
  }

  dispose(): void {
    if (this.sessionId !== undefined) this.backend.binding.deleteSavedModel(this.sessionId);
    this.sessionId = undefined;
  }
}
