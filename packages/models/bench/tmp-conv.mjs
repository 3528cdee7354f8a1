import { selectBackend, tf } from "../dist/index.js";
await selectBackend("wasm");
const time = (name, f) => { f().dispose(); const t = performance.now(); for (let i = 0; i < 3; i++) f().dispose(); console.log(name.padEnd(40), ((performance.now() - t) / 3).toFixed(1), "ms"); };
for (const [h, ci, co] of [[28, 1, 32], [26, 32, 64]]) {
  const x = tf.randomNormal([64, h, h, ci]), w = tf.randomNormal([3, 3, ci, co]);
  const dy = tf.randomNormal([64, h - 2, h - 2, co]);
  const run = (k, inputs, attrs) => tf.engine().runKernel(k, inputs, attrs);
  const a = { strides: 1, pad: "valid", dataFormat: "NHWC" };
  time(`fwd ${ci}->${co}`, () => tf.conv2d(x, w, 1, "valid"));
  time(`dW ${ci}->${co}`, () => run("Conv2DBackpropFilter", { x, dy }, { ...a, filterShape: w.shape }));
  time(`dX ${ci}->${co}`, () => run("Conv2DBackpropInput", { dy, filter: w }, { ...a, inputShape: x.shape }));
  time(` xT`, () => tf.transpose(x, [3, 1, 2, 0]));
  time(` dyT`, () => tf.transpose(dy, [1, 2, 0, 3]));
  const xT = tf.transpose(x, [3, 1, 2, 0]), dyT = tf.transpose(dy, [1, 2, 0, 3]);
  time(` conv xT*dyT`, () => tf.conv2d(xT, dyT, 1, "valid"));
  time(` sum dy (bias grad)`, () => tf.sum(dy, [0, 1, 2]));
  time(` relu grad mul step`, () => tf.mul(dy, tf.step(dy)));
  const p = tf.randomNormal([9 * ci, 64 * (h - 2) * (h - 2)]), d2 = tf.reshape(dy, [-1, co]);
  time(` im2col matmul`, () => tf.matMul(p, d2));
}
