/**
 * Elementwise loops that Keras' and torch's rules share (keras.ts and torch.ts keep the loops only
 * one of them has): plain functions of arrays and numbers, as V8 optimizes those best.
 */

/**
 * Adadelta (Keras' and torch's rule): acc = rho acc + (1 - rho) g^2, delta = sqrt(accDelta + eps) /
 * sqrt(acc + eps) g, accDelta = rho accDelta + (1 - rho) delta^2, p -= lr delta; `wd` adds
 * torch's coupled weight decay to the gradient.
 */
export function adadeltaArrays(grad: Float32Array, p: Float32Array, acc: Float32Array, accDelta: Float32Array, rho: number, eps: number, wd: number, lr: number, shrink: number): void {
  const n = grad.length;
  const c = 1 - rho;
  for (let i = 0; i < n; i++) {
    const g = Math.fround(grad[i] + p[i] * wd);
    const a = (acc[i] = Math.fround(acc[i] * rho + g * g * c));
    const delta = Math.fround((Math.sqrt(accDelta[i] + eps) / Math.sqrt(a + eps)) * g);
    accDelta[i] = Math.fround(accDelta[i] * rho + delta * delta * c);
    p[i] = p[i] * shrink - delta * lr;
  }
}
