/**
 * Evaluation through onnxruntime-node: runs an `.onnx` file as it is (no conversion), for
 * checking a converted or exported model against the reference runtime. A graph with a fixed
 * batch of 1 (CNTK exports) is fed one row at a time.
 */
import * as ort from "onnxruntime-node";

export interface FloatArray { shape: number[]; data: Float32Array }

export class OnnxRuntimeModel {
  private constructor(private readonly session: ort.InferenceSession, readonly file: string) {}

  static async load(file: string): Promise<OnnxRuntimeModel> {
    try {
      return new OnnxRuntimeModel(await ort.InferenceSession.create(file), file);
    } catch (e) {
      throw new Error(`${file}: onnxruntime cannot load it (${(e as Error).message})`);
    }
  }

  /** The first input's shape as declared (null where symbolic). */
  private inputDims(): (number | null)[] | undefined {
    const meta = (this.session as unknown as { inputMetadata?: { shape?: (number | string)[] }[] }).inputMetadata?.[0];
    return meta?.shape?.map((d) => (typeof d === "number" && d > 0 ? d : null));
  }

  async predict(x: FloatArray): Promise<FloatArray> {
    const batch = x.shape[0]!;
    const rows = this.inputDims()?.[0] === 1 && batch > 1 ? batch : 1;
    const per = x.data.length / rows;
    const outs: FloatArray[] = [];
    for (let r = 0; r < rows; r++) {
      const shape = rows > 1 ? [1, ...x.shape.slice(1)] : x.shape;
      const feeds = { [this.session.inputNames[0]!]: new ort.Tensor("float32", x.data.subarray(r * per, (r + 1) * per), shape) };
      const result = await this.session.run(feeds);
      const y = result[this.session.outputNames[0]!]!;
      outs.push({ shape: [...y.dims], data: Float32Array.from(y.data as Float32Array) });
    }
    if (rows === 1) return outs[0]!;
    const data = new Float32Array(outs.reduce((a, o) => a + o.data.length, 0));
    outs.forEach((o, i) => data.set(o.data, i * o.data.length));
    return { shape: [batch, ...outs[0]!.shape.slice(1)], data };
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
