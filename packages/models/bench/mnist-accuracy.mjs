// Trains the demo CNN (createMnistCnn) on 8,000 real MNIST digits and reports test accuracy on
// 2,000 held-out digits after each epoch, with wall time.
// Usage: npm run build && node packages/models/bench/mnist-accuracy.mjs [epochs=5] [backend=wasm]
import { selectBackend, tf, createMnistCnn, createKerasMnistCnn } from "../dist/index.js";
import { loadMnist } from "./mnist-data.mjs";

const [epochsArg = "5", backendArg = "wasm", which = "demo"] = process.argv.slice(2);
const backend = await selectBackend(backendArg);
console.log(`backend: ${backend.name} (${backend.detail})`);
const { train, test } = loadMnist(tf, { train: 8000, test: 2000 });
const options = process.env.LR ? { learningRate: Number(process.env.LR) } : {};
const model = which === "keras" ? createKerasMnistCnn(options) : createMnistCnn(options);
const start = performance.now();
for (let epoch = 1; epoch <= Number(epochsArg); epoch++) {
  await model.fit(train.x, train.y, { epochs: 1, batchSize: 32, shuffle: true, verbose: 0 });
  const [, acc] = model.evaluate(test.x, test.y, { batchSize: 500 });
  console.log(`${which} epoch ${epoch}: test accuracy ${((await acc.data())[0] * 100).toFixed(2)}% at ${((performance.now() - start) / 1000).toFixed(1)} s`);
}
