/**
 * Calls `handler` on the first SIGTERM or SIGINT; a second signal exits at once. Returns a
 * function that removes the handlers.
 */
export function onShutdownSignal(handler: (signal: NodeJS.Signals) => void): () => void {
  let received = false;
  const listener = (signal: NodeJS.Signals) => {
    if (received) process.exit(130);
    received = true;
    handler(signal);
  };
  process.on("SIGTERM", listener);
  process.on("SIGINT", listener);
  return () => {
    process.off("SIGTERM", listener);
    process.off("SIGINT", listener);
  };
}
