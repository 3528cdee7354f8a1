/**
 * The gradient all-reduce of the wasm workers, done by the workers themselves: once every worker
 * has written its gradient, worker i adds up stretch i of all of them, so the sum costs each of
 * n workers 1/n of it in parallel instead of the main thread all of it after them.
 */

/** The half-open range of `length` values that worker `index` of `used` sums. */
export function stretchOf(length: number, index: number, used: number): [number, number] {
  return [Math.floor((index * length) / used), Math.floor(((index + 1) * length) / used)];
}

/**
 * sum[j] = grads[0][j] + grads[1][j] + ... + grads[used-1][j] over [from, to), rounded to float32
 * after each addition: the same values, bit for bit, whichever worker sums which stretch, as one
 * thread adding the buffers into a Float32Array one after another.
 */
export function sumStretch(grads: Float32Array[], used: number, sum: Float32Array, from: number, to: number): void {
  if (used === 1) {
    sum.set(grads[0].subarray(from, to), from);
    return;
  }
  const a = grads[0];
  const b = grads[1];
  if (used === 2) {
    for (let j = from; j < to; j++) sum[j] = a[j] + b[j];
    return;
  }
  for (let j = from; j < to; j++) {
    let s = Math.fround(a[j] + b[j]);
    for (let w = 2; w < used; w++) s = Math.fround(s + grads[w][j]);
    sum[j] = s;
  }
}

/**
 * Counts this worker in and blocks until `used` workers have (Atomics on a shared Int32 counter
 * that the main thread zeroes before each step). Resolves at once for the last one to arrive.
 */
export function arriveAndWait(counter: Int32Array, used: number): void {
  const arrived = Atomics.add(counter, 0, 1) + 1;
  if (arrived >= used) {
    Atomics.notify(counter, 0);
    return;
  }
  for (let seen = arrived; seen < used; seen = Atomics.load(counter, 0)) Atomics.wait(counter, 0, seen);
}
