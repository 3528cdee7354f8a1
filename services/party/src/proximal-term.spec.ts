import { beforeAll, describe, expect, it } from "vitest";
import type { Dataset } from "@cohort/data";
import { selectBackend, tf, tfl } from "@cohort/models";
import { ProximalTerm } from "./proximal-term.js";
import { TfjsLearner } from "./tfjs-learner.js";

beforeAll(async () => {
  await selectBackend("auto");
});

function dense(lr: number) {
  const model = tfl.sequential({ layers: [tfl.layers.dense({ inputShape: [2], units: 1, kernelInitializer: "zeros", biasInitializer: "zeros" })] });
  model.compile({ optimizer: tf.train.sgd(lr), loss: "meanSquaredError" });
  return model;
}

function flat(model: ReturnType<typeof dense>): number[] {
  return model.getWeights().flatMap((w) => [...w.dataSync()]);
}

describe("FedProx's proximal term", () => {
  it("steps each weight toward the anchor by lr * mu * (w - anchor), and its value is mu/2 ||w - anchor||^2", () => {
    const model = dense(0.1);
    const term = new ProximalTerm(model, 2, 0.5);
    model.setWeights([tf.tensor2d([[1], [-2]]), tf.tensor1d([3])]);
    expect(term.value()).toBeCloseTo((2 / 2) * (1 + 4 + 9), 5);
    term.step(); // lr 0.1 from the SGD optimizer, mu 2: each weight keeps 1 - 0.2 of its distance
    expect(flat(model)).toEqual([0.8, -1.6, 2.4].map(Math.fround));
    term.dispose();
  });

  it("keeps a party's model nearer the global model than plain training does", async () => {
    const split = { x: Float32Array.from({ length: 64 }, (_, i) => (i % 7) / 7), xShape: [32, 2], y: Float32Array.from({ length: 32 }, (_, i) => 5 + i / 8), yShape: [32, 1] };
    const data: Dataset = { train: split, test: split, description: "synthetic regression" };
    const distance = async (mu: number | undefined) => {
      const learner = new TfjsLearner(dense(0.05), data, "cpu", "synthetic");
      await learner.train({ epochs: 3, batchSize: 8, validationSplit: 0, ...(mu ? { proximalMu: mu } : {}) });
      return Math.hypot(...learner.getWeights().flatMap((w) => [...(w.data as Float32Array)]));
    };
    const plain = await distance(undefined);
    const prox = await distance(5);
    expect(plain).toBeGreaterThan(0.5);
    expect(prox).toBeLessThan(plain * 0.8);
  });
});
