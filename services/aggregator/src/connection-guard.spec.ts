import { type Server, type Socket, connect, createServer } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { AggregatorMetrics, createLogger } from "@cohort/telemetry";
import { ConnectionGuard, type ConnectionLimits } from "./connection-guard.js";
import { defaultConnectionCap as defaultConnectionCapForTests } from "./limits.js";

const servers: Server[] = [];
const clients: Socket[] = [];
afterEach(() => {
  clients.splice(0).forEach((c) => c.destroy());
  servers.splice(0).forEach((s) => s.close());
});

/** A loopback server watched by a guard; `peers` are the server-side keys of accepted sockets, as grpc-js' getPeer says them. */
async function guarded(limits: Partial<ConnectionLimits>) {
  const metrics = new AggregatorMetrics();
  const guard = new ConnectionGuard({ handshakeTimeoutMs: 10_000, unauthenticatedIdleMs: 10_000, maxUnauthenticatedPerAddress: 100, maxUnauthenticatedConnections: 100, ...limits }, createLogger({ service: "test", level: "silent" }), metrics);
  const peers: string[] = [];
  const server = createServer((socket) => { peers.push(`${socket.remoteAddress}:${socket.remotePort}`); socket.on("error", () => undefined); });
  servers.push(server);
  guard.attach([server]);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  return { guard, metrics, peers, port };
}

/** A client from `from`, and a promise of when the server closes it. */
async function dial(port: number, from = "127.0.0.1") {
  const socket = connect({ host: "127.0.0.1", port, localAddress: from });
  clients.push(socket);
  socket.on("error", () => undefined);
  const closed = new Promise<number>((resolve) => { const t0 = Date.now(); socket.once("close", () => resolve(Date.now() - t0)); });
  await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
  return { socket, closed };
}

const counted = async (metrics: AggregatorMetrics, reason: string) =>
  (await metrics.registry.getSingleMetric("cohort_aggregator_closed_connections_total")!.get()).values.find((v) => v.labels.reason === reason)?.value ?? 0;

describe("ConnectionGuard", () => {
  it("closes a connection that carries no call within the handshake deadline, and one that does not authenticate within the idle deadline", async () => {
    const { guard, metrics, peers, port } = await guarded({ handshakeTimeoutMs: 200, unauthenticatedIdleMs: 600 });
    const silent = await dial(port);
    const health = await dial(port);
    const party = await dial(port);
    await new Promise((r) => setTimeout(r, 50));
    guard.callStarted(peers[1]!); // a health check: a call, never authenticated
    guard.callStarted(peers[2]!);
    guard.authenticated(peers[2]!); // a party's join
    expect(await silent.closed).toBeLessThan(500);
    const healthMs = await health.closed;
    expect(healthMs).toBeGreaterThanOrEqual(500);
    expect(party.socket.destroyed).toBe(false);
    expect(guard.unauthenticated).toBe(0);
    expect(await counted(metrics, "handshake_timeout")).toBe(1);
    expect(await counted(metrics, "unauthenticated_idle")).toBe(1);
  });

  it("refuses connections past the per-address cap, and closes the oldest past the total cap", async () => {
    const { guard, metrics, port } = await guarded({ maxUnauthenticatedPerAddress: 2, maxUnauthenticatedConnections: 3 });
    const a = [await dial(port, "127.0.0.2"), await dial(port, "127.0.0.2")];
    const refused = await dial(port, "127.0.0.2");
    await refused.closed;
    expect(await counted(metrics, "per_address")).toBe(1);
    const b = await dial(port, "127.0.0.3");
    const c = await dial(port, "127.0.0.4"); // the fourth unauthenticated connection: the oldest (a[0]) goes
    await a[0]!.closed;
    await new Promise((r) => setTimeout(r, 50));
    expect([a[1]!.socket.destroyed, b.socket.destroyed, c.socket.destroyed]).toEqual([false, false, false]);
    expect(await counted(metrics, "total")).toBe(1);
    expect(guard.unauthenticated).toBe(3);
  });

  it("sizes its default total cap from the file-descriptor limit", () => {
    expect(defaultConnectionCapForTests("Max open files            256                  256                  files\n")).toBe(64);
    expect(defaultConnectionCapForTests("Max open files            1048576              1048576              files\n")).toBe(1024);
    expect(defaultConnectionCapForTests("Max open files            20                   20                   files\n")).toBe(16);
  });
});
