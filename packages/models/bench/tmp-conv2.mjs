import { selectBackend, tf } from "../dist/index.js";
await selectBackend("wasm");
for (const nc of [1, 2, 4, 8, 16, 32, 64]) {
  const chunks = 64 / nc;
  const xs = [], fs = [];
  for (let c = 0; c < chunks; c++) { xs.push(tf.randomNormal([32, 26, 26, nc])); fs.push(tf.randomNormal([24, 24, nc, 64])); }
  const t = performance.now();
  const outs = xs.map((x, c) => tf.conv2d(x, fs[c], 1, "valid"));
  const ms = performance.now() - t;
  console.log(`nc=${nc} chunks=${chunks}: ${ms.toFixed(1)} ms total`);
  tf.dispose([...xs, ...fs, ...outs]);
}
