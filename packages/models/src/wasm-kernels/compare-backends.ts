/** Test helper: run the same computation on the cpu and wasm backends and compare. */
import { expect } from "vitest";
import { tf, type Tensor } from "../tfjs.js";

/** Evaluates `fn` on `backend` and returns the values of every tensor it returns. */
export async function valuesOn(backend: string, fn: () => Tensor | Tensor[]): Promise<Float32Array[]> {
  await tf.setBackend(backend);
  const out = fn();
  const list = Array.isArray(out) ? out : [out];
  const values = await Promise.all(list.map(async (t) => Float32Array.from(await t.data())));
  tf.dispose(list);
  return values;
}

/** Largest |a-b| over the largest |b|: elementwise ratios blow up on values near zero. */
export function relativeError(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let diff = 0;
  let scale = 1e-12;
  for (let i = 0; i < a.length; i++) {
    if (Number.isNaN(a[i]) !== Number.isNaN(b[i])) return Number.POSITIVE_INFINITY;
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return diff / scale;
}

export const TOLERANCE = 1e-4;

/** Asserts that `fn` gives the same values on wasm as on cpu, within TOLERANCE; returns the worst error. */
export async function expectWasmMatchesCpu(fn: () => Tensor | Tensor[]): Promise<number> {
  const cpu = await valuesOn("cpu", fn);
  const wasm = await valuesOn("wasm", fn);
  expect(wasm.length).toBe(cpu.length);
  let worst = 0;
  cpu.forEach((c, i) => {
    const err = relativeError(wasm[i], c);
    worst = Math.max(worst, err);
    expect(err, `output ${i}`).toBeLessThan(TOLERANCE);
  });
  return worst;
}
