import { readFileSync } from "node:fs";
import * as grpc from "@grpc/grpc-js";

/**
 * Every bound on what a peer controls, in one place, with the defaults the README's "Limits"
 * table documents. Each is checked before the aggregator allocates anything on the peer's
 * behalf; a breach is refused with the gRPC status named beside it.
 */
export interface AggregatorLimits {
  /** gRPC message size, both ways (grpc-js's own default, set explicitly and never raised). */
  maxMessageBytes: number;
  /** HTTP/2 streams one connection may have open at once (`grpc.max_concurrent_streams`). */
  maxStreamsPerConnection: number;
  /** Streams (instructions + downloads + uploads) one party may have open at once: RESOURCE_EXHAUSTED. */
  maxStreamsPerParty: number;
  /** Uploads one party may have in flight at once: RESOURCE_EXHAUSTED. */
  maxUploadsPerParty: number;
  /** An upload that sends no message for this long is cut with DEADLINE_EXCEEDED and its staged bytes dropped. */
  uploadIdleMs: number;
  /** Metadata values: bearer token, party name, session id: UNAUTHENTICATED / ABORTED. */
  maxTokenBytes: number;
  maxPartyNameBytes: number;
  maxSessionBytes: number;
  /** The packed size of the federation's model, from a joining party's manifest (the accumulator is float64, twice this): INVALID_ARGUMENT. */
  maxModelBytes: number;
  /** Strings a party sends at join: backend name, TF.js topology JSON: INVALID_ARGUMENT. */
  maxBackendBytes: number;
  maxTopologyBytes: number;
  /** Update header: example count and metrics: INVALID_ARGUMENT. */
  maxNumExamples: number;
  maxMetrics: number;
  maxMetricNameBytes: number;
  /**
   * Junk calls: a peer (a party, or the address of callers that do not authenticate) whose calls
   * were refused `maxRejections` times within `rejectionWindowMs` (INVALID_ARGUMENT,
   * UNAUTHENTICATED, PERMISSION_DENIED) gets RESOURCE_EXHAUSTED for `rejectionCooldownMs`,
   * before anything of its call is read. 0 turns the limit off.
   */
  maxRejections: number;
  rejectionWindowMs: number;
  rejectionCooldownMs: number;
  /** Peers remembered by the junk limit; past it the least recently refused is forgotten. */
  maxTrackedPeers: number;
  /**
   * Connections that have not carried an authenticated call (connection-guard.ts): a deadline
   * for the first call (TCP + TLS handshake + HTTP/2 preface), one for the first authenticated
   * call, and caps per address (more refused) and in all (the oldest closed to make room).
   */
  handshakeTimeoutMs: number;
  unauthenticatedIdleMs: number;
  maxUnauthenticatedPerAddress: number;
  maxUnauthenticatedConnections: number;
}

/**
 * The default cap on unauthenticated connections: a quarter of the process's file-descriptor
 * limit (RLIMIT_NOFILE, from /proc/self/limits), between 16 and 1024, so that a flood of idle
 * connections never takes the descriptors that parties, staging files and health checks need.
 */
export function defaultConnectionCap(limitsText?: string): number {
  let text = limitsText;
  if (text === undefined) {
    try {
      text = readFileSync("/proc/self/limits", "utf8");
    } catch {
      return 256;
    }
  }
  const soft = /^Max open files\s+(\d+|unlimited)/m.exec(text)?.[1];
  if (soft === undefined) return 256;
  if (soft === "unlimited") return 1024;
  return Math.min(1024, Math.max(16, Math.floor(Number(soft) / 4)));
}

export const DEFAULT_LIMITS: Readonly<AggregatorLimits> = Object.freeze({
  maxMessageBytes: 4 * 1024 * 1024,
  maxStreamsPerConnection: 16,
  maxStreamsPerParty: 4,
  maxUploadsPerParty: 1,
  uploadIdleMs: 60_000,
  maxTokenBytes: 1024,
  maxPartyNameBytes: 128,
  maxSessionBytes: 64,
  maxModelBytes: 8 * 1024 * 1024 * 1024,
  maxBackendBytes: 64,
  maxTopologyBytes: 2 * 1024 * 1024,
  maxNumExamples: 1e12,
  maxMetrics: 64,
  maxMetricNameBytes: 64,
  maxRejections: 20,
  rejectionWindowMs: 60_000,
  rejectionCooldownMs: 60_000,
  maxTrackedPeers: 10_000,
  handshakeTimeoutMs: 10_000,
  unauthenticatedIdleMs: 30_000,
  // Half the total: one address cannot take every slot, and parties behind one NAT that all
  // start at once (the 200-party bench) are not refused.
  maxUnauthenticatedPerAddress: Math.max(8, Math.floor(defaultConnectionCap() / 2)),
  maxUnauthenticatedConnections: defaultConnectionCap(),
});

/** The defaults with a deployment's (or a test's) overrides. */
export function resolveLimits(overrides: Partial<AggregatorLimits> = {}): AggregatorLimits {
  return { ...DEFAULT_LIMITS, ...overrides };
}

/**
 * HTTP/2 keepalive of the aggregator's connections. `timeMs`/`timeoutMs`: the aggregator pings
 * each connection after this long without a ping and drops it when no answer comes within
 * `timeoutMs` (so the streams of a party whose link died silently end). `minPingIntervalMs`:
 * the most frequent pings it accepts from parties, with or without calls in flight; it must not
 * exceed the parties' `keepalive.time_ms` (30 s by default), or a gRPC server that enforces it
 * answers their pings with GOAWAY ENHANCE_YOUR_CALM ("too_many_pings").
 */
export interface ServerKeepalive {
  timeMs: number;
  timeoutMs: number;
  minPingIntervalMs: number;
}

export const DEFAULT_SERVER_KEEPALIVE: Readonly<ServerKeepalive> = Object.freeze({ timeMs: 30_000, timeoutMs: 10_000, minPingIntervalMs: 10_000 });

/** grpc-js server options that enforce the transport-level limits; keepalive detects dead links. */
export function serverOptions(limits: AggregatorLimits, keepalive: Partial<ServerKeepalive> = {}): grpc.ServerOptions {
  const k = { ...DEFAULT_SERVER_KEEPALIVE, ...keepalive };
  return {
    "grpc.keepalive_time_ms": k.timeMs,
    "grpc.keepalive_timeout_ms": k.timeoutMs,
    // The policy for the parties' pings (grpc-js 1.14 answers every ping; other gRPC servers and
    // proxies enforce these two, and refuse pings more frequent than the interval).
    "grpc.keepalive_permit_without_calls": 1,
    "grpc.http2.min_ping_interval_without_data_ms": k.minPingIntervalMs,
    "grpc.max_receive_message_length": limits.maxMessageBytes,
    "grpc.max_send_message_length": limits.maxMessageBytes,
    "grpc.max_concurrent_streams": limits.maxStreamsPerConnection,
  };
}
