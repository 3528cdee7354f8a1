import type { Server as NetServer, Socket } from "node:net";
import type { Http2Session, ServerHttp2Stream } from "node:http2";
import type { TLSSocket } from "node:tls";
import type { AggregatorMetrics, Logger } from "@cohort/telemetry";
import type * as grpc from "@grpc/grpc-js";

/** What a connection that has not yet carried an authenticated call may hold (see AggregatorLimits). */
export interface ConnectionLimits {
  /** From accept to the connection's first call: TCP, the TLS handshake and the HTTP/2 preface. */
  handshakeTimeoutMs: number;
  /** From accept to the connection's first authenticated call (health checks need none: they finish well before). */
  unauthenticatedIdleMs: number;
  /** Unauthenticated connections one address may hold; more are refused at once. */
  maxUnauthenticatedPerAddress: number;
  /** Unauthenticated connections in all; past it the oldest is closed to make room. */
  maxUnauthenticatedConnections: number;
}

/** Why the guard closed a connection (the `reason` label of cohort_aggregator_closed_connections_total). */
export type ClosedReason = "per_address" | "total" | "handshake_timeout" | "unauthenticated_idle" | "tls_handshake";

interface Tracked { socket: Socket; address: string; started: number; timer: NodeJS.Timeout; calls: number; session?: Http2Session }

/** At most one log line per reason in this long (a flood of 2,000 connections is one line with a count, not 2,000). */
const LOG_EVERY_MS = 5_000;

/**
 * Bounds what a connection may hold before it proves who it is. grpc-js keeps any accepted
 * connection open for as long as its peer likes, and a peer that sends half an HTTP/2 preface
 * (or half a TLS handshake) and then nothing costs a file descriptor forever: enough of them
 * and the aggregator can accept nothing, health checks included. The guard sees every accepted
 * socket of the gRPC server's listeners (before grpc-js or TLS touch it) and keeps, per
 * connection, a deadline for its first call and one for its first authenticated call; it caps
 * unauthenticated connections per address (refusing more) and in all (closing the oldest, so
 * that a flood from many addresses cannot lock out a party that connects now). A connection's
 * first authenticated call releases it from all of this. Closures and failed TLS handshakes are
 * logged (throttled, with counts) and counted in Prometheus.
 */
export class ConnectionGuard {
  /** Unauthenticated connections by "address:port" (what grpc-js' call.getPeer() says), oldest first. */
  private readonly pending = new Map<string, Tracked>();
  private readonly perAddress = new Map<string, number>();
  /** Sockets the guard closed itself: their TLS errors are not handshake failures. */
  private readonly closedByGuard = new WeakSet<Socket>();
  /** Each accepted socket's address (a socket that failed its handshake may have lost it). */
  private readonly addresses = new WeakMap<Socket, string>();
  private readonly unlogged = new Map<ClosedReason, { count: number; last: number; sample: Record<string, unknown>; timer?: NodeJS.Timeout }>();

  constructor(private readonly limits: ConnectionLimits, private readonly log: Logger, private readonly metrics?: AggregatorMetrics) {}

  /** Watches the listeners' accepted sockets and TLS handshake failures. */
  attach(servers: Iterable<NetServer>): void {
    for (const server of servers) {
      server.prependListener("connection", (socket: Socket) => this.accepted(socket));
      server.on("tlsClientError", (error: NodeJS.ErrnoException, tlsSocket: TLSSocket) => this.tlsFailed(error, tlsSocket));
      // The HTTP/2 session takes over the socket's handle: closing the connection means destroying the session.
      server.on("session", (session: Http2Session) => {
        const tracked = this.pending.get(`${session.socket?.remoteAddress}:${session.socket?.remotePort}`);
        if (tracked) tracked.session = session;
      });
      // Every call is an HTTP/2 stream: one event per call, nothing per message.
      server.on("stream", (stream: ServerHttp2Stream) => {
        const socket = stream.session?.socket;
        if (socket) this.callStarted(`${socket.remoteAddress}:${socket.remotePort}`);
      });
    }
  }

  /** Unauthenticated connections held now (tests, metrics). */
  get unauthenticated(): number {
    return this.pending.size;
  }

  /** A call (HTTP/2 stream) arrived on the connection of `peer`: its handshake is done; it now has until the idle deadline to authenticate. */
  callStarted(peer: string): void {
    const tracked = this.pending.get(peer);
    if (!tracked || tracked.calls++ > 0) return;
    clearTimeout(tracked.timer);
    const left = Math.max(0, this.limits.unauthenticatedIdleMs - (Date.now() - tracked.started));
    tracked.timer = setTimeout(() => this.closeConnection(peer, "unauthenticated_idle"), left).unref();
  }

  /** A call on the connection of `peer` authenticated: the connection is a party's and no longer bounded here. */
  authenticated(peer: string): void {
    this.forget(peer);
  }

  /** Stops every timer (the server is shutting down) and logs what is still uncounted in the log. */
  stop(): void {
    for (const key of [...this.pending.keys()]) this.forget(key);
    for (const reason of [...this.unlogged.keys()]) this.flush(reason as ClosedReason);
  }

  private closeConnection(peer: string, reason: ClosedReason): void {
    const tracked = this.pending.get(peer);
    if (!tracked) return;
    this.forget(peer);
    this.closedByGuard.add(tracked.socket);
    // Once an HTTP/2 session holds the socket's handle, neither socket.destroy() nor
    // session.destroy() closes a connection whose preface is incomplete; a TCP reset does.
    // (Reset first: a session destroyed first keeps the socket open.)
    tracked.socket.resetAndDestroy();
    tracked.session?.destroy();
    this.report(reason, { peer: tracked.address, held_ms: Date.now() - tracked.started });
  }

  private accepted(socket: Socket): void {
    const address = socket.remoteAddress ?? "unknown";
    this.addresses.set(socket, address);
    const key = `${socket.remoteAddress}:${socket.remotePort}`;
    if ((this.perAddress.get(address) ?? 0) >= this.limits.maxUnauthenticatedPerAddress) {
      this.closedByGuard.add(socket);
      socket.destroy();
      this.report("per_address", { peer: address, limit: this.limits.maxUnauthenticatedPerAddress });
      return;
    }
    if (this.pending.size >= this.limits.maxUnauthenticatedConnections) {
      const oldest = this.pending.keys().next().value as string;
      this.closeConnection(oldest, "total");
    }
    const timer = setTimeout(() => this.closeConnection(key, "handshake_timeout"), this.limits.handshakeTimeoutMs).unref();
    this.pending.set(key, { socket, address, started: Date.now(), timer, calls: 0 });
    this.perAddress.set(address, (this.perAddress.get(address) ?? 0) + 1);
    socket.once("close", () => this.forget(key));
  }

  private forget(key: string): void {
    const tracked = this.pending.get(key);
    if (!tracked) return;
    clearTimeout(tracked.timer);
    this.pending.delete(key);
    const left = (this.perAddress.get(tracked.address) ?? 1) - 1;
    if (left > 0) this.perAddress.set(tracked.address, left);
    else this.perAddress.delete(tracked.address);
  }

  private tlsFailed(error: NodeJS.ErrnoException, tlsSocket: TLSSocket): void {
    const raw = (tlsSocket as unknown as { _parent?: Socket })._parent;
    if (raw && this.closedByGuard.has(raw)) return;
    const address = (raw && this.addresses.get(raw)) ?? raw?.remoteAddress ?? "unknown";
    this.report("tls_handshake", { peer: address, code: error.code, detail: error.message.split("\n")[0] });
  }

  /** Counts every closure; logs the first of a reason at once, then at most one line per LOG_EVERY_MS with how many it stands for. */
  private report(reason: ClosedReason, fields: Record<string, unknown>): void {
    this.metrics?.connectionClosed(reason);
    const state = this.unlogged.get(reason) ?? { count: 0, last: 0, sample: fields };
    this.unlogged.set(reason, state);
    state.count++;
    state.sample = fields;
    const wait = state.last + LOG_EVERY_MS - Date.now();
    if (wait <= 0) this.flush(reason);
    else state.timer ??= setTimeout(() => this.flush(reason), wait).unref();
  }

  private flush(reason: ClosedReason): void {
    const state = this.unlogged.get(reason);
    if (!state) return;
    clearTimeout(state.timer);
    state.timer = undefined;
    if (state.count === 0) return;
    const message = reason === "tls_handshake" ? "TLS handshake failed" : `connection closed before an authenticated call (${reason.replace("_", " ")})`;
    this.log.warn({ phase: "connection", reason, ...state.sample, count: state.count }, message);
    state.count = 0;
    state.last = Date.now();
  }
}

/**
 * The listening sockets of a bound grpc-js server. grpc-js does not expose them; the guard needs
 * their accepted sockets and TLS handshake errors. Read from its `http2Servers` map (grpc-js
 * 1.10-1.14); a missing map stops the aggregator at start rather than leaving it unguarded.
 */
export function listenersOf(server: grpc.Server): NetServer[] {
  const map = (server as unknown as { http2Servers?: Map<NetServer, unknown> }).http2Servers;
  if (!(map instanceof Map) || map.size === 0) throw new Error("grpc-js no longer exposes its listeners (http2Servers): the connection guard cannot be attached; check the @grpc/grpc-js version");
  return [...map.keys()];
}
