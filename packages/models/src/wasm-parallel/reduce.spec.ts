import { Worker } from "node:worker_threads";
import { describe, expect, it } from "vitest";
import { arriveAndWait, stretchOf, sumStretch } from "./reduce.js";

/** What the main thread computed before the workers reduced: buffer 0 copied, each next one added into it. */
function sequentialSum(grads: Float32Array[], used: number): Float32Array {
  const sum = grads[0].slice();
  for (let w = 1; w < used; w++) for (let i = 0; i < sum.length; i++) sum[i] += grads[w][i];
  return sum;
}

function randomGrads(workers: number, length: number): Float32Array[] {
  // Values of very different magnitudes, so that the order and rounding of the additions matter.
  return Array.from({ length: workers }, () => Float32Array.from({ length }, () => (Math.random() - 0.5) * 10 ** Math.floor(Math.random() * 12 - 6)));
}

describe("stretchOf", () => {
  it("cuts [0, length) into `used` adjacent stretches that cover it once", () => {
    for (const [length, used] of [[10, 3], [7, 7], [1_199_882, 2], [5, 4]]) {
      const stretches = Array.from({ length: used }, (_, i) => stretchOf(length, i, used));
      expect(stretches[0][0]).toBe(0);
      expect(stretches[used - 1][1]).toBe(length);
      for (let i = 1; i < used; i++) expect(stretches[i][0]).toBe(stretches[i - 1][1]);
      for (const [from, to] of stretches) expect(to - from).toBeGreaterThanOrEqual(Math.floor(length / used));
    }
  });
});

describe("sumStretch", () => {
  it("gives, stretch by stretch, bit for bit the sum one thread adding the buffers in order gives (1 to 4 workers)", () => {
    for (const workers of [1, 2, 3, 4]) {
      const grads = randomGrads(workers, 1001);
      const expected = sequentialSum(grads, workers);
      const sum = new Float32Array(1001).fill(Number.NaN);
      for (let i = 0; i < workers; i++) sumStretch(grads, workers, sum, ...stretchOf(sum.length, i, workers));
      expect(Array.from(sum), `${workers} workers`).toEqual(Array.from(expected));
    }
  });

  it("adds only the first `used` buffers (a batch with fewer rows than workers)", () => {
    const grads = randomGrads(3, 50);
    grads[2].fill(1e9); // a worker that sat this step out: its stale buffer must not count
    const sum = new Float32Array(50);
    for (let i = 0; i < 2; i++) sumStretch(grads, 2, sum, ...stretchOf(50, i, 2));
    expect(Array.from(sum)).toEqual(Array.from(sequentialSum(grads, 2)));
  });
});

describe("arriveAndWait", () => {
  it("holds every worker thread until the last has arrived, then lets them all go", async () => {
    const counter = new Int32Array(new SharedArrayBuffer(4));
    const log = new Int32Array(new SharedArrayBuffer(4 * 3));
    // Each thread waits a different time before arriving, then records how many had arrived when it was let go.
    const code = `
      const { workerData, parentPort } = require("node:worker_threads");
      const { counter, log, index, delay } = workerData;
      const until = Date.now() + delay; while (Date.now() < until);
      ${arriveAndWait.toString()}
      arriveAndWait(counter, 3);
      log[index] = Atomics.load(counter, 0);
      parentPort.postMessage("done");`;
    await Promise.all([0, 150, 300].map((delay, index) => new Promise((resolve, reject) => {
      new Worker(code, { eval: true, workerData: { counter, log, index, delay } }).on("message", resolve).on("error", reject);
    })));
    expect(Array.from(log)).toEqual([3, 3, 3]);
  });
});
