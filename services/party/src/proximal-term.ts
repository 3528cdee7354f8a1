import { type LayersModel, getLearningRate, tf } from "@cohort/models";

/**
 * FedProx's proximal term (Li et al., "Federated Optimization in Heterogeneous Networks"):
 * mu/2 * ||w - w_global||^2 added to the local loss keeps a party's model near the round's
 * global model. model.fit's loss sees only labels and predictions, so the term's gradient,
 * mu * (w - w_global), is applied as its own descent step after each batch's optimizer step:
 * w <- w - lr * mu * (w - w_global). With SGD this is the gradient step of the summed loss; with
 * adaptive optimizers it is the term's step taken without their scaling (as AdamW decouples
 * weight decay).
 */
export class ProximalTerm {
  private readonly anchors: tf.Tensor[];
  private readonly lr: number;

  /** `model`'s trainable weights as they are now are the anchor (the round's global model). */
  constructor(private readonly model: LayersModel, readonly mu: number, fallbackLr: number) {
    if (!(mu > 0) || !Number.isFinite(mu)) throw new RangeError(`proximal mu must be positive and finite, got ${mu}`);
    this.anchors = model.trainableWeights.map((w) => tf.keep(w.read().clone()));
    this.lr = getLearningRate(model) ?? fallbackLr;
  }

  /** One step of the proximal term's gradient on every trainable weight. */
  step(): void {
    const shrink = this.lr * this.mu;
    tf.tidy(() => {
      this.model.trainableWeights.forEach((w, i) => {
        const value = w.read();
        w.write(tf.sub(value, tf.mul(tf.sub(value, this.anchors[i]), shrink)));
      });
    });
  }

  /** The term's value mu/2 * ||w - w_global||^2 (for tests and logs). */
  value(): number {
    return tf.tidy(() => {
      const squares = this.model.trainableWeights.map((w, i) => tf.sum(tf.square(tf.sub(w.read(), this.anchors[i]))));
      return (this.mu / 2) * (tf.addN(squares).dataSync()[0] ?? 0);
    });
  }

  dispose(): void {
    tf.dispose(this.anchors);
  }
}
