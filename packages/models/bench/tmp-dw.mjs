import { selectBackend, tf } from "../dist/index.js";
await selectBackend("wasm");
for (const [h, k, ci, co] of [[28, 3, 1, 32], [28, 5, 1, 8], [12, 5, 8, 16], [26, 3, 32, 64]]) {
  const x = tf.randomNormal([64, h, h, ci]);
  const o = h - k + 1;
  const dys = Array.from({ length: 6 }, () => tf.randomNormal([64, o, o, co]));
  const run = (dy) => tf.engine().runKernel("Conv2DBackpropFilter", { x, dy }, { strides: 1, pad: "valid", dataFormat: "NHWC", filterShape: [k, k, ci, co] });
  run(dys[5]).dispose();
  const c0 = tf.conv2d(tf.randomNormal([64,26,26,32]), tf.randomNormal([3,3,32,64]), 1, "valid"); c0.dispose();
  let t = performance.now(); for (let i = 0; i < 5; i++) run(dys[i]).dispose();
  console.log(`PMM=${process.env.PMM} dW ${h}x${h}x${ci} k${k} ->${co}: ${((performance.now() - t) / 5).toFixed(1)} ms`);
}
