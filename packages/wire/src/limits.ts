/** Default largest chunk of tensor bytes in one message: well under gRPC's 4 MiB default limit. */
export const DEFAULT_CHUNK_SIZE = 1024 * 1024;
/** Smallest and largest chunk sizes a deployment may configure. */
export const MIN_CHUNK_SIZE = 1024;
export const MAX_CHUNK_SIZE = 4 * 1024 * 1024 - 64 * 1024;

/** Metadata keys: the credential and the join session travel as call metadata, never in messages. */
export const AUTHORIZATION_KEY = "authorization";
export const PARTY_KEY = "cohort-party";
export const SESSION_KEY = "cohort-session";
