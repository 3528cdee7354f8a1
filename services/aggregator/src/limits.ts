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
});

/** The defaults with a deployment's (or a test's) overrides. */
export function resolveLimits(overrides: Partial<AggregatorLimits> = {}): AggregatorLimits {
  return { ...DEFAULT_LIMITS, ...overrides };
}

/** grpc-js server options that enforce the transport-level limits; keepalive detects dead links. */
export function serverOptions(limits: AggregatorLimits): grpc.ServerOptions {
  return {
    "grpc.keepalive_time_ms": 30_000,
    "grpc.keepalive_timeout_ms": 10_000,
    "grpc.keepalive_permit_without_calls": 1,
    "grpc.max_receive_message_length": limits.maxMessageBytes,
    "grpc.max_send_message_length": limits.maxMessageBytes,
    "grpc.max_concurrent_streams": limits.maxStreamsPerConnection,
  };
}
