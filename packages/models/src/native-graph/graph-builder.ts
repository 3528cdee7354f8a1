/**
 * Builds a GraphDef node by node: each op gets a unique name from its kind and returns the name
 * of its first output (`name:k` for output k), which later ops take as input.
 */
import type { Attr, GraphNode } from "./graph-def-writer.js";

/** TensorFlow's DataType enum values the training graphs use. */
export const DT_FLOAT = 1;
export const DT_INT32 = 3;
export const DT_BOOL = 10;

const T: Attr = { type: DT_FLOAT };

export class GraphBuilder {
  readonly nodes: GraphNode[] = [];
  private readonly used = new Map<string, number>();

  op(op: string, inputs: string[], attrs: Record<string, Attr> = {}, name?: string): string {
    const base = name ?? op;
    const n = this.used.get(base) ?? 0;
    this.used.set(base, n + 1);
    const unique = n === 0 && name !== undefined ? base : `${base}_${n}`;
    this.nodes.push({ name: unique, op, inputs, attrs });
    return unique;
  }

  /** A float32 op with the usual `T` attribute. */
  f(op: string, inputs: string[], attrs: Record<string, Attr> = {}): string {
    return this.op(op, inputs, { T, ...attrs });
  }

  /** A fed input; without `shape` its rank is unknown too. */
  placeholder(name: string, dtype: number, shape?: Array<number | null>): string {
    return this.op("Placeholder", [], shape ? { dtype: { type: dtype }, shape: { shape } } : { dtype: { type: dtype } }, name);
  }

  int32s(values: number[], shape = [values.length]): string {
    return this.op("Const", [], { dtype: { type: DT_INT32 }, value: { tensor: { dtype: DT_INT32, shape, int32: values } } });
  }

  int32(value: number): string {
    return this.int32s([value], []);
  }

  float(value: number): string {
    return this.op("Const", [], { dtype: { type: DT_FLOAT }, value: { tensor: { dtype: DT_FLOAT, shape: [], float: [value] } } });
  }

  shape(x: string): string {
    return this.op("Shape", [x], { T, out_type: { type: DT_INT32 } });
  }

  /** The element count of `x` as a float32 scalar (the batch's size, for means). */
  sizeAsFloat(x: string): string {
    return this.op("Cast", [this.op("Size", [x], { T, out_type: { type: DT_INT32 } })], { SrcT: { type: DT_INT32 }, DstT: T, Truncate: { b: false } });
  }

  /** The sum of all elements of `x`, a scalar. */
  sumAll(x: string, rank: number): string {
    return this.op("Sum", [x, this.int32s([...Array(rank).keys()])], { T, Tidx: { type: DT_INT32 }, keep_dims: { b: false } });
  }

  identity(x: string, name: string): string {
    return this.op("Identity", [x], { T }, name);
  }
}
