import { selectBackend, tf } from "../dist/index.js";
await selectBackend("wasm");
const time = (name, f) => { f().dispose(); const t = performance.now(); for (let i = 0; i < 3; i++) f().dispose(); console.log(name.padEnd(40), ((performance.now() - t) / 3).toFixed(1), "ms"); };
for (const nb of [1, 4, 16, 64]) {
  const k = 36864 / nb;
  const a = tf.randomNormal([nb, 64, k]), b = tf.randomNormal([nb, k, 288]);
  time(`bmm nb=${nb} [64x${k}]@[${k}x288]`, () => tf.matMul(a, b));
  const a2 = tf.randomNormal([nb, 288, k]), b2 = tf.randomNormal([nb, k, 64]);
  time(`bmm nb=${nb} [288x${k}]@[${k}x64]`, () => tf.matMul(a2, b2));
}
// JS im2col: x [64,26,26,32] -> P [64*576, 288]
const x = new Float32Array(64 * 26 * 26 * 32).map(() => Math.random());
const P = new Float32Array(64 * 576 * 288);
let t = performance.now();
for (let rep = 0; rep < 3; rep++) {
  let o = 0;
  for (let n = 0; n < 64; n++) for (let i = 0; i < 24; i++) for (let j = 0; j < 24; j++) for (let a = 0; a < 3; a++) {
    const s = ((n * 26 + i + a) * 26 + j) * 32;
    P.set(x.subarray(s, s + 96), o); o += 96;
  }
}
console.log("js im2col", ((performance.now() - t) / 3).toFixed(1), "ms");
