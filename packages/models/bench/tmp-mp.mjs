import { selectBackend, tf } from "../dist/index.js";
await selectBackend("wasm");
const x = tf.randomNormal([2, 11, 8, 2]);
const info = tf.backend_util.computePool2DInfo(x.shape, [3,2], [3,1], 1, 1);
console.log(info.outShape, info.padInfo);
for (let i = 0; i < 50; i++) { const y = tf.maxPool(x, [3, 2], [3, 1], 1); y.dispose(); }
console.log("fwd ok");
for (let i = 0; i < 50; i++) { const g = tf.grad((a) => tf.sum(tf.maxPool(a, [3, 2], [3, 1], 1)))(x); g.dispose(); }
console.log("grad ok");
