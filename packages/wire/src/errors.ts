import * as grpc from "@grpc/grpc-js";

/** A refusal meant for the peer: carries the gRPC status the peer receives and a safe message. */
export class FederationError extends Error {
  constructor(readonly code: grpc.status, message: string) {
    super(message);
    this.name = "FederationError";
  }
}

export const unauthenticated = (m: string) => new FederationError(grpc.status.UNAUTHENTICATED, m);
export const permissionDenied = (m: string) => new FederationError(grpc.status.PERMISSION_DENIED, m);
export const invalidArgument = (m: string) => new FederationError(grpc.status.INVALID_ARGUMENT, m);
export const failedPrecondition = (m: string) => new FederationError(grpc.status.FAILED_PRECONDITION, m);
export const notFound = (m: string) => new FederationError(grpc.status.NOT_FOUND, m);
export const resourceExhausted = (m: string) => new FederationError(grpc.status.RESOURCE_EXHAUSTED, m);
export const alreadyExists = (m: string) => new FederationError(grpc.status.ALREADY_EXISTS, m);
export const unavailable = (m: string) => new FederationError(grpc.status.UNAVAILABLE, m);

/**
 * The single place where errors become gRPC statuses: a FederationError keeps its code and
 * message; anything else is an internal fault, reported as UNKNOWN with a generic message so
 * internals never reach the peer (the caller logs the original).
 */
export function toServiceError(error: unknown): Partial<grpc.ServiceError> & { code: grpc.status; details: string } {
  if (error instanceof FederationError) return { code: error.code, details: error.message, message: error.message };
  return { code: grpc.status.UNKNOWN, details: "internal error in the aggregator", message: "internal error in the aggregator" };
}
