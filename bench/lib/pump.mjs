/**
 * Writes `bytes` bytes of `chunk` (repeated, the last one cut short) to a socket or any stream
 * with write()/"drain" (a grpc-js call), honouring backpressure; calls `done` after the last
 * write. The one write loop of the raw-TCP and bare grpc-js baselines.
 */
export function pumpBytes(socket, chunk, bytes, done = () => {}) {
  let sent = 0;
  const pump = () => {
    while (sent < bytes) {
      const n = Math.min(chunk.length, bytes - sent);
      sent += n;
      if (!socket.write(n === chunk.length ? chunk : chunk.subarray(0, n))) return socket.once("drain", pump);
    }
    done();
  };
  pump();
}
