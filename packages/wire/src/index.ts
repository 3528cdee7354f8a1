export { PROTO_ROOT, federationService, federationClientConstructor } from "./proto.js";
export type * from "./messages.js";
export { AUTHORIZATION_KEY, PARTY_KEY, SESSION_KEY } from "./limits.js";
export { type ByteChunk, chunksOf, ChunkSequence } from "./chunking.js";
export { WeightAssembler } from "./assembler.js";
export { FiniteCheck } from "./finite-check.js";
export { Crc32, formatCrc32 } from "./checksum.js";
export {
  FederationError, toServiceError, unauthenticated, permissionDenied, invalidArgument, failedPrecondition,
  notFound, resourceExhausted, alreadyExists, unavailable,
} from "./errors.js";
export { manifestToMessage, manifestFromMessage } from "./manifest-message.js";
export { FLOW_CONTROL_WINDOW_BYTES, TRANSFER_CHANNEL_OPTIONS } from "./flow-control.js";
export { type BaseReader, UpdateDecoder } from "./update-decoder.js";
export { HEAP_GROWING_ENV, PARTY_HEAP_GROWING_PERCENT, tuneHeapGrowth } from "./heap-growth.js";
export { ALLOW_INSECURE_KEY_FLAG, KeyPermissionsError, readPrivateKey } from "./private-key.js";
