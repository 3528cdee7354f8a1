/**
 * A TF.js layer that runs a flattened SavedModel graph (see inline.ts) with tfjs-converter's
 * executor. The SavedModel's variables are this layer's weights: each call feeds them to the
 * graph's variable Placeholders, so the graph's ops take the tf.Variables themselves as inputs
 * and gradients flow to them like to any layer's kernel. The layer's config holds the whole
 * graph as data (ops, attributes, constants), so a model.json of it rebuilds it without the
 * SavedModel directory; deserialising it checks the op allow-list again.
 */
import { GraphModel } from "@tensorflow/tfjs-converter";
import { tf, tfl } from "../tfjs.js";
import { type FlatConst, type FlatGraph, GraphInterpretError, OP_ALLOW_LIST } from "./inline.js";

export interface GraphVariable { name: string; shape: number[]; trainable: boolean }

export interface SavedModelGraphArgs {
  graph: FlatGraph;
  variables: GraphVariable[];
  /** Output shape without the batch dimension (null where unknown). */
  outputShape: Array<number | null>;
  name?: string;
  inputShape?: Array<number | null>;
}

const ALLOWED = new Set(OP_ALLOW_LIST);

/** A GraphModel over the flat graph, its constants as the graph's weights. */
function graphModel(graph: FlatGraph, where: string): GraphModel {
  for (const n of graph.nodes) {
    if (n.op !== "Placeholder" && !ALLOWED.has(n.op)) throw new GraphInterpretError(where, `op ${n.op} (node ${n.name}) is not in the allow-list`);
  }
  const specs: tf.io.WeightsManifestEntry[] = graph.consts.map((c) => ({ name: c.name, shape: c.shape, dtype: c.dtype }));
  const buffers = graph.consts.map((c: FlatConst) => {
    const typed = c.dtype === "float32" ? Float32Array.from(c.values) : c.dtype === "int32" ? Int32Array.from(c.values) : Uint8Array.from(c.values);
    return typed.buffer as ArrayBuffer;
  });
  const model = new GraphModel({ load: async () => ({}) } as tf.io.IOHandler);
  model.loadSync({ modelTopology: { node: graph.nodes, versions: { producer: 1 } }, weightSpecs: specs, weightData: tf.io.concatenateArrayBuffers(buffers), format: "graph-model" } as tf.io.ModelArtifacts);
  return model;
}

export class SavedModelGraph extends tfl.layers.Layer {
  static className = "SavedModelGraph";
  private readonly args: SavedModelGraphArgs;
  private readonly model: GraphModel;
  /** The weights in the graph's variable order (layer.weights lists trainable ones first). */
  private readonly variables: Array<ReturnType<tfl.layers.Layer["addWeight"]>> = [];

  constructor(args: SavedModelGraphArgs) {
    super({ name: args.name, inputShape: args.inputShape ?? undefined, trainable: true });
    this.args = args;
    this.model = graphModel(args.graph, `layer ${this.name}`);
  }

  /** Cohort's manifest names for this layer's weights: the SavedModel's variable names. */
  stableWeightNames(): string[] {
    return this.weights.map((w) => this.args.variables[this.variables.indexOf(w)]!.name);
  }

  /** The variables' values in the SavedModel's order, whatever layer.weights' order. */
  setVariableValues(values: tf.Tensor[]): void {
    values.forEach((v, k) => this.variables[k]!.write(v));
  }

  variableValues(): tf.Tensor[] {
    return this.variables.map((v) => v.read());
  }

  override build(): void {
    for (const v of this.args.variables) {
      this.variables.push(this.addWeight(v.name, v.shape, "float32", tfl.initializers.zeros(), undefined, v.trainable));
    }
    this.built = true;
  }

  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape {
    const batch = (Array.isArray(inputShape[0]) ? (inputShape as tfl.Shape[])[0]! : (inputShape as tfl.Shape))[0] ?? null;
    return [batch, ...this.args.outputShape];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const x = Array.isArray(inputs) ? inputs[0]! : inputs;
    const feed: tf.NamedTensorMap = { [this.args.graph.input]: x };
    this.variables.forEach((w, k) => { feed[this.args.graph.variables[k]!] = w.read(); });
    return this.model.execute(feed, this.args.graph.output) as tf.Tensor;
  }

  /**
   * The graph, variables and output shape travel as one hex string: tfjs-layers snake-cases every
   * string of a config on saving (op names, variable names), and hex has nothing to change.
   */
  override getConfig(): tf.serialization.ConfigDict {
    const graph = { ...this.args.graph, consts: this.args.graph.consts.map((c) => ({ ...c, values: Array.from(c.values) })) };
    const payload = JSON.stringify({ graph, variables: this.args.variables, outputShape: this.args.outputShape });
    return { ...super.getConfig(), savedModelGraph: Buffer.from(payload, "utf8").toString("hex") };
  }

  override dispose(): ReturnType<InstanceType<typeof tfl.layers.Layer>["dispose"]> {
    this.model.dispose();
    return super.dispose();
  }

  static override fromConfig<T extends tf.serialization.Serializable>(cls: tf.serialization.SerializableConstructor<T>, config: tf.serialization.ConfigDict): T {
    const c = config as { savedModelGraph?: unknown; name?: string; batchInputShape?: Array<number | null> };
    if (typeof c.savedModelGraph !== "string" || !/^(?:[0-9a-f]{2})*$/.test(c.savedModelGraph)) throw new GraphInterpretError(`layer ${c.name ?? "?"}`, "SavedModelGraph config has no hex-encoded savedModelGraph");
    const parsed = JSON.parse(Buffer.from(c.savedModelGraph, "hex").toString("utf8")) as Pick<SavedModelGraphArgs, "graph" | "variables" | "outputShape">;
    return new cls({ ...parsed, name: c.name, inputShape: c.batchInputShape?.slice(1) }) as T;
  }
}
tf.serialization.registerClass(SavedModelGraph);
